#include <filesystem>

#include <fmt/format.h>

#include "core/finite.h"
#include "graph/eager_builder.h"
#include "models/step_runner.h"
#include "models/model_impl.h"
#include "models/random_gpt2.h"

namespace jitgen {

namespace {
ModelInfo make_info(const io::Gpt2Config& c) {
  return ModelInfo{c.model_type, c.n_layer,  c.n_head,       c.n_embd,
                   c.n_positions, c.vocab_size, c.bos_token_id, c.eos_token_id};
}
}  // namespace

Model Model::from_dir(const std::string& dir, bool check_weights) {
  if (!std::filesystem::is_directory(dir))
    throw_invalid_file(fmt::format("{}: model folder not found (expected a Hugging Face folder with config.json "
                                   "and model.safetensors)",
                                   dir));
  auto impl = std::make_shared<Impl>();
  impl->config = io::load_gpt2_config(dir + "/config.json");
  parse_activation(impl->config.activation_function);  // fail at load, not at the first step
  impl->weights = load_gpt2_weights(dir, impl->config);
  if (check_weights)
    for (const auto& [name, t] : gpt2_weights_by_name(*impl))
      if (!all_finite(t))
        throw_invalid_file(fmt::format("{}: tensor \"{}\" contains NaN or Inf values (--check-weights)", dir, name));
  impl->generation_defaults = io::load_generation_defaults(dir + "/generation_config.json");
  impl->info = make_info(impl->config);
  impl->source = dir;
  return Model(std::move(impl));
}

Model Model::builtin_default() {
  Model m = random_preset("tiny", 0);
  std::const_pointer_cast<Impl>(m.impl_)->source = "<built-in random gpt2>";
  return m;
}

Model Model::random_preset(const std::string& preset, uint64_t seed) {
  auto impl = std::make_shared<Impl>();
  impl->config = gpt2_preset(preset);
  impl->weights = random_gpt2_weights(impl->config, seed);
  prepare_gpt2_weights(impl->weights, cpu::weight_storage_from_env());
  impl->generation_defaults = {{"bos_token_id", impl->config.bos_token_id},
                               {"eos_token_id", impl->config.eos_token_id}};
  impl->info = make_info(impl->config);
  impl->source = fmt::format("<random {} seed {}>", preset, seed);
  return Model(std::move(impl));
}

std::map<std::string, Tensor> gpt2_weights_by_name(const Model::Impl& m) {
  std::map<std::string, Tensor> out;
  Gpt2Weights& w = const_cast<Gpt2Weights&>(m.weights);  // the visitor takes non-const; nothing is written
  for_each_gpt2_tensor(m.config, w, [&](const std::string& name, Tensor& t, const Shape&) { out[name] = t; });
  out["lm_head.weight"] = m.weights.lm_head;
  return out;
}

std::string model_fingerprint(const Model::Impl& m) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  };
  const std::string config = m.config.to_json().dump();
  mix(config.data(), config.size());
  for (const auto& [name, t] : gpt2_weights_by_name(m)) {
    mix(name.data(), name.size());
    mix(t.shape().data(), t.shape().size() * sizeof(int64_t));
    const size_t n = t.nbytes(), sample = std::min<size_t>(n, 256);
    mix(t.data(), sample);                                              // first values
    mix(static_cast<const char*>(t.data()) + n - sample, sample);       // last values
  }
  return fmt::format("{:016x}", h);
}

const ModelInfo& Model::info() const { return impl_->info; }
const std::string& Model::source() const { return impl_->source; }

std::vector<std::vector<float>> Model::forward_logits(const std::vector<std::vector<int32_t>>& input_ids,
                                                      const std::vector<std::vector<int32_t>>& attention_mask,
                                                      ExecutionMode mode) const {
  const int B = static_cast<int>(input_ids.size());
  if (B == 0) return {};
  const int T = static_cast<int>(input_ids[0].size());
  std::vector<std::vector<int32_t>> mask = attention_mask;
  if (mask.empty()) mask.assign(B, std::vector<int32_t>(T, 1));
  std::vector<std::vector<int32_t>> pos(B);
  for (int b = 0; b < B; ++b) prompt_positions(mask[b], pos[b]);
  const Tensor logits = make_step_runner(*this, B, T, mode)->step(input_ids, pos, mask, false);  // [B, T, V]
  const int64_t row = static_cast<int64_t>(T) * info().vocab_size;
  std::vector<std::vector<float>> out(B);
  for (int b = 0; b < B; ++b) out[b].assign(logits.f32() + b * row, logits.f32() + (b + 1) * row);
  return out;
}

}  // namespace jitgen
