#include <filesystem>

#include <fmt/format.h>

#include "models/model_impl.h"
#include "io/config_reader.h"
#include "io/hf_config.h"
#include "models/registry.h"
#include "models/weight_layout.h"

namespace jitgen {

namespace {
ModelInfo make_info(const ModelSpec& s) {
  ModelInfo i;
  i.model_type = s.model_type;
  i.n_layer = s.n_layer;
  i.n_head = s.n_head;
  i.n_kv_head = s.n_kv_head;
  i.head_dim = s.head_dim;
  i.n_embd = s.hidden_size;
  i.n_positions = s.max_positions;
  i.vocab_size = s.vocab_size;
  i.bos_token_id = s.bos_token_id;
  i.eos_token_id = s.eos_token_id;
  return i;
}

}  // namespace

Model Model::from_dir(const std::string& dir, bool check_weights) {
  if (!std::filesystem::is_directory(dir))
    throw_invalid_file(fmt::format("{}: model folder not found (expected a Hugging Face folder with config.json "
                                   "and model.safetensors)",
                                   dir));
  const std::string config_path = dir + "/config.json";
  const nlohmann::json config = io::read_json_file(config_path);
  if (!config.is_object())
    throw_invalid_file(fmt::format("{}: must be a JSON object, got {}", config_path, config.type_name()));
  auto mt = config.find("model_type");
  if (mt == config.end())
    throw_invalid_file(fmt::format("{}: missing field \"model_type\" (expected one of: {})", config_path,
                                   supported_model_types()));
  if (!mt->is_string())
    throw_invalid_file(fmt::format("{}: field \"model_type\" must be a string (one of: {}), got {}", config_path,
                                   supported_model_types(), io::brief(*mt)));
  const Family& family = family_for(mt->get<std::string>(), config_path);
  auto impl = std::make_shared<Impl>();
  {
    // check_weights: the loader's first pass scans each tensor as stored, before anything is read
    // (models/weight_layout.h ScopedFiniteCheck); the load then packs and releases weight by weight as always.
    const ScopedFiniteCheck check(check_weights);
    impl->model = family.load(dir, config, config_path);
  }
  finish_load(*impl);
  impl->generation_defaults = io::load_generation_defaults(dir + "/generation_config.json");
  impl->source = dir;
  impl->info = make_info(impl->spec());
  return Model(std::move(impl));
}

Model Model::builtin_random_gpt2() {
  Model m = random_preset("tiny", 0);
  std::const_pointer_cast<Impl>(m.impl_)->source = "<built-in random gpt2>";
  return m;
}

Model Model::random_preset(const std::string& preset, uint64_t seed) {
  // A preset name belongs to one family ("tiny", "gpt2", "smollm2-135m", ...); "family:preset" also works.
  std::string name;
  const Family* family = &family_for_preset("", preset, name);
  auto impl = std::make_shared<Impl>();
  impl->model = family->random(name, seed);
  finish_load(*impl);
  const ModelSpec& s = impl->model->spec();
  impl->generation_defaults = {{"bos_token_id", s.bos_token_id}, {"eos_token_id", s.eos_token_id}};
  impl->source = fmt::format("<random {} seed {}>", preset, seed);
  impl->info = make_info(impl->spec());
  return Model(std::move(impl));
}

std::map<std::string, Tensor> weights_by_name(const Model::Impl& m) { return m.model->weights_by_name(); }

void finish_load(Model::Impl& m) { m.fingerprint = model_fingerprint(m); }

std::string model_fingerprint(const Model::Impl& m) {
  if (!m.fingerprint.empty()) return m.fingerprint;
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  };
  const std::string config = m.model->config_json().dump();
  mix(config.data(), config.size());
  for (const auto& [name, t] : weights_by_name(m)) {
    mix(name.data(), name.size());
    mix(t.shape().data(), t.shape().size() * sizeof(int64_t));
    const cpu::PreparedWeights* p = m.model->prepared();
    if (const cpu::PackedLinear* r = p ? p->released(t.data()) : nullptr) {  // the same bytes, kept at release
      mix(r->source_sample.data(), r->source_sample.size());
      continue;
    }
    const size_t n = t.nbytes(), sample = std::min<size_t>(n, 256);
    mix(t.data(), sample);                                              // first values
    mix(static_cast<const char*>(t.data()) + n - sample, sample);       // last values
  }
  return fmt::format("{:016x}", h);
}

const ModelInfo& Model::info() const { return impl_->info; }
const std::string& Model::source() const { return impl_->source; }

}  // namespace jitgen
