#include "models/gpt2/family.h"

#include <fmt/format.h>

#include "jitgen/error.h"
#include "models/blocks/blocks.h"
#include "models/gpt2/gpt2.h"
#include "models/gpt2/random_gpt2.h"
#include "models/quantized_checkpoint.h"

namespace jitgen {
namespace {

class Gpt2Model final : public FamilyModel {
 public:
  Gpt2Model(io::Gpt2Config c, Gpt2Weights w) : config_(std::move(c)), weights_(std::move(w)) {
    spec_ = common_spec(config_.model_type, config_, config_.n_layer, config_.n_head, config_.head_dim());
    spec_.hidden_size = config_.n_embd;
    spec_.intermediate_size = config_.inner_dim();
    spec_.vocab_size = config_.vocab_size;
    spec_.max_positions = config_.n_positions;
    spec_.positions = PositionKind::kLearned;
  }
  const ModelSpec& spec() const override { return spec_; }
  Value build(Builder& b, bool last_position_only) const override {
    return build_gpt2(b, config_, weights_, last_position_only);
  }
  std::map<std::string, Tensor> weights_by_name() const override {
    std::map<std::string, Tensor> out;
    Gpt2Weights& w = const_cast<Gpt2Weights&>(weights_);  // the visitor takes non-const; nothing is written
    for_each_gpt2_tensor(config_, w, [&](const std::string& name, Tensor& t, const Shape&) { out[name] = t; });
    out["lm_head.weight"] = weights_.lm_head;
    return out;
  }
  nlohmann::json config_json() const override { return config_.to_json(); }
  const cpu::PreparedWeights* prepared() const override { return weights_.prepared.get(); }

 private:
  io::Gpt2Config config_;
  Gpt2Weights weights_;
  ModelSpec spec_;
};

io::Gpt2Config preset_with(const std::string& preset, const RandomModelOptions& o) {
  if (!o.config.is_null()) throw_invalid_argument("--config-json: GPT-2 presets take the --n-* overrides only");
  io::Gpt2Config c = gpt2_preset(preset);
  if (o.layers) c.n_layer = o.layers;
  if (o.heads) c.n_head = o.heads;
  if (o.kv_heads && o.kv_heads != c.n_head)
    throw_invalid_argument("--n-kv-head: GPT-2 has as many key/value heads as query heads");
  if (o.hidden) c.n_embd = o.hidden;
  if (o.positions) c.n_positions = o.positions;
  if (o.vocab) {
    c.vocab_size = o.vocab;
    c.bos_token_id = c.eos_token_id = o.vocab - 1;
    c.eos_token_ids = {c.eos_token_id};
  }
  return io::parse_gpt2_config(c.to_json(), "make-model options");  // same validation as a loaded config
}

}  // namespace

const Family& gpt2_family() {
  static const Family f{
      "gpt2",
      {"tiny", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"},
      [](const std::string& dir, const nlohmann::json& j, const std::string& path) {
        io::Gpt2Config c = io::parse_gpt2_config(j, path);
        blocks::hf_activation(c.activation_function, "activation_function");  // fail at load, not at the first step
        if (models::read_quantization_config(j, path))
          throw_invalid_file(path + ": quantization_config: pre-quantized (GPTQ / AWQ) checkpoints are read for the "
                                    "llama family (llama, mistral, qwen2) only, not gpt2");
        Gpt2Weights w = load_gpt2_weights(dir, c);
        return std::shared_ptr<const FamilyModel>(std::make_shared<Gpt2Model>(std::move(c), std::move(w)));
      },
      [](const std::string& preset, uint64_t seed) {
        io::Gpt2Config c = gpt2_preset(preset);
        Gpt2Weights w = random_gpt2_weights(c, seed);
        prepare_gpt2_weights(w, /*tied=*/true, cpu::weight_storage_from_env());  // random GPT-2s are tied
        return std::shared_ptr<const FamilyModel>(std::make_shared<Gpt2Model>(std::move(c), std::move(w)));
      },
      [](const std::string& preset, const RandomModelOptions& opt, const std::string& dir) {
        const io::Gpt2Config c = preset_with(preset, opt);
        write_random_gpt2(c, opt, dir);
        return fmt::format("random GPT-2 ({} layers, {} wide, vocab {})", c.n_layer, c.n_embd, c.vocab_size);
      }};
  return f;
}

}  // namespace jitgen
