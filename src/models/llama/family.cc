// Registration of the Llama family (llama, mistral, qwen2), its shape presets and its random-model maker.
#include "models/llama/family.h"

#include <algorithm>

#include <fmt/format.h>

#include "jitgen/error.h"
#include "models/llama/llama.h"
#include "models/random_folder.h"

namespace jitgen {
namespace {

using llama::LlamaConfig;
using nlohmann::json;

class LlamaModel final : public FamilyModel {
 public:
  LlamaModel(LlamaConfig c, llama::Weights w) : config_(std::move(c)), weights_(std::move(w)) {
    spec_ = common_spec(config_.model_type, config_, config_.num_hidden_layers, config_.num_attention_heads,
                        config_.dim());
    spec_.n_kv_head = config_.kv_heads();
    spec_.hidden_size = config_.hidden_size;
    spec_.intermediate_size = config_.intermediate_size;
    spec_.vocab_size = config_.vocab_size;
    // Rotary positions have no table; HF does not bound them. jitgen bounds a request by max_position_embeddings
    // (times the factor for dynamic NTK, whose purpose is to run past it).
    const int64_t max_pos = config_.rope.type == "dynamic"
                                ? static_cast<int64_t>(config_.max_position_embeddings * config_.rope.factor)
                                : config_.max_position_embeddings;
    spec_.max_positions = static_cast<int>(std::min<int64_t>(max_pos, 1 << 24));
    spec_.positions = PositionKind::kRotary;
    for (int i = 0; i < config_.num_hidden_layers; ++i) spec_.window[i] = config_.layer_window(i);
  }
  const ModelSpec& spec() const override { return spec_; }
  Value build(Builder& b, bool last_position_only) const override {
    return llama::build(b, config_, weights_, last_position_only);
  }
  std::map<std::string, Tensor> weights_by_name() const override {
    std::map<std::string, Tensor> out;
    auto& w = const_cast<llama::Weights&>(weights_);  // the visitor takes non-const; nothing is written
    llama::for_each_tensor(config_, w, [&](const std::string& name, Tensor& t, const Shape&, bool) {
      if (t.defined()) out[name] = t;  // absent optional tensors (biases) are not weights
    });
    out["lm_head.weight"] = weights_.lm_head;
    out["model.rotary_emb.inv_freq"] = weights_.inv_freq;
    return out;
  }
  json config_json() const override { return config_.to_json(); }
  const cpu::PreparedWeights* prepared() const override { return weights_.prepared.get(); }

 private:
  LlamaConfig config_;
  llama::Weights weights_;
  ModelSpec spec_;
};

// Real shapes (the models' own config.json values) plus small test shapes.
LlamaConfig preset(const std::string& model_type, const std::string& name) {
  LlamaConfig c = llama::defaults_for(model_type);
  auto shape = [&](int vocab, int hidden, int inter, int layers, int heads, int kv, int max_pos, double eps,
                   double theta, bool tie) {
    c.vocab_size = vocab, c.hidden_size = hidden, c.intermediate_size = inter, c.num_hidden_layers = layers;
    c.num_attention_heads = heads, c.num_key_value_heads = kv, c.max_position_embeddings = max_pos;
    c.rms_norm_eps = eps, c.rope.theta = theta, c.tie_word_embeddings = tie;
  };
  auto tokens = [&](int bos, int eos) {
    c.bos_token_id = bos, c.eos_token_id = eos, c.eos_token_ids = {eos};
  };
  if (name == "llama-tiny" || name == "mistral-tiny" || name == "qwen2-tiny") {
    shape(1000, 64, 128, 2, 4, 2, 256, 1e-5, 10000.0, false);
    tokens(1, 2);
    if (model_type == "mistral") c.sliding_window = 16;
  } else if (name == "smollm2-135m") {
    shape(49152, 576, 1536, 30, 9, 3, 8192, 1e-5, 100000.0, true);
    tokens(1, 2);
  } else if (name == "smollm2-360m") {
    shape(49152, 960, 2560, 32, 15, 5, 8192, 1e-5, 100000.0, true);
    tokens(1, 2);
  } else if (name == "tinyllama-1.1b") {
    shape(32000, 2048, 5632, 22, 32, 4, 2048, 1e-5, 10000.0, false);
    tokens(1, 2);
  } else if (name == "llama-3.2-1b") {
    shape(128256, 2048, 8192, 16, 32, 8, 131072, 1e-5, 500000.0, true);
    c.head_dim = 64;
    c.rope.source = {{"factor", 32.0}, {"high_freq_factor", 4.0}, {"low_freq_factor", 1.0},
                     {"original_max_position_embeddings", 8192}, {"rope_type", "llama3"}};
    tokens(128000, 128001);
  } else if (name == "qwen2.5-0.5b") {
    shape(151936, 896, 4864, 24, 14, 2, 32768, 1e-6, 1000000.0, true);
    c.max_window_layers = 21;
    tokens(151643, 151643);
  } else {
    JITGEN_CHECK(false);
  }
  return c;
}

// The preset with RandomModelOptions' overrides, validated like a loaded config.json.
LlamaConfig configure(const std::string& model_type, const std::string& name, const RandomModelOptions& o) {
  LlamaConfig c = preset(model_type, name);
  json j = c.to_json();
  if (o.layers) j["num_hidden_layers"] = o.layers;
  if (o.heads) j["num_attention_heads"] = o.heads;
  if (o.kv_heads) j["num_key_value_heads"] = o.kv_heads;
  else if (o.heads) j["num_key_value_heads"] = o.heads;
  if (o.hidden) j["hidden_size"] = o.hidden;
  if (o.heads || o.hidden) j.erase("head_dim");  // re-derived unless the overrides set it
  if (o.positions) j["max_position_embeddings"] = o.positions;
  if (o.vocab) {
    j["vocab_size"] = o.vocab;
    if (c.bos_token_id >= o.vocab) j["bos_token_id"] = o.vocab - 1;
    if (c.eos_token_id >= o.vocab) j["eos_token_id"] = o.vocab - 1;
  }
  if (o.config.is_object()) j.merge_patch(o.config);
  if (j.contains("layer_types") && !o.config.contains("layer_types")) j.erase("layer_types");  // re-derived
  return llama::parse_llama_config(j, "make-model options");
}

// Random tensors in HF layout, deterministic in (seed, name), drawn as PeakedInit (models/random_folder.h) says.
NamedTensors random_tensors(const LlamaConfig& c, uint64_t seed) {
  llama::Weights scratch;
  scratch.layers.resize(c.num_hidden_layers);
  const PeakedInit init{"model.embed_tokens.weight", "model.norm.weight", "layernorm.weight"};
  return random_hf_tensors([&](auto&& fn) { llama::for_each_tensor(c, scratch, fn); }, seed, init);
}

llama::Weights weights_from(const LlamaConfig& c, const NamedTensors& tensors) {
  llama::Weights w;
  w.layers.resize(c.num_hidden_layers);
  place_hf_tensors([&](auto&& fn) { llama::for_each_tensor(c, w, fn); }, tensors);
  return w;
}

Family make_family(const std::string& model_type, std::vector<std::string> presets) {
  return Family{
      model_type, std::move(presets),
      [](const std::string& dir, const json& j, const std::string& path) {
        LlamaConfig c = llama::parse_llama_config(j, path);
        llama::Weights w = llama::load_weights(dir, c, models::read_quantization_config(j, path));
        return std::shared_ptr<const FamilyModel>(std::make_shared<LlamaModel>(std::move(c), std::move(w)));
      },
      [model_type](const std::string& name, uint64_t seed) {
        LlamaConfig c = configure(model_type, name, {});
        llama::Weights w = weights_from(c, random_tensors(c, seed));
        llama::finish_weights(c, w, cpu::weight_storage_from_env());
        return std::shared_ptr<const FamilyModel>(std::make_shared<LlamaModel>(std::move(c), std::move(w)));
      },
      [model_type](const std::string& name, const RandomModelOptions& opt, const std::string& dir) {
        const LlamaConfig c = configure(model_type, name, opt);
        check_random_folder_options(opt, c.num_hidden_layers, c.vocab_size);
        write_hf_folder(dir, random_tensors(c, opt.seed), c.to_json(),
                        generation_config_json(c.bos_token_id, c.eos_token_id), opt);
        return fmt::format("random {} ({} layers, {} wide, {} heads / {} KV heads, vocab {})", model_type,
                           c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.kv_heads(), c.vocab_size);
      }};
}

}  // namespace

const Family& llama_family() {
  static const Family f =
      make_family("llama", {"llama-tiny", "smollm2-135m", "smollm2-360m", "tinyllama-1.1b", "llama-3.2-1b"});
  return f;
}
const Family& mistral_family() {
  static const Family f = make_family("mistral", {"mistral-tiny"});
  return f;
}
const Family& qwen2_family() {
  static const Family f = make_family("qwen2", {"qwen2-tiny", "qwen2.5-0.5b"});
  return f;
}

}  // namespace jitgen
