// Registration of OPT, its shape presets and its random-model maker.
#include "models/opt/family.h"

#include <fmt/format.h>

#include "jitgen/error.h"
#include "models/opt/opt.h"
#include "models/random_folder.h"

namespace jitgen {
namespace {

using nlohmann::json;
using opt::OptConfig;

class OptModel final : public FamilyModel {
 public:
  OptModel(OptConfig c, opt::Weights w) : config_(std::move(c)), weights_(std::move(w)) {
    spec_ = common_spec("opt", config_, config_.num_hidden_layers, config_.num_attention_heads, config_.head_dim());
    spec_.hidden_size = config_.hidden_size;
    spec_.intermediate_size = config_.ffn_dim;
    spec_.vocab_size = config_.vocab_size;
    spec_.max_positions = config_.max_position_embeddings;
    spec_.positions = PositionKind::kLearned;
  }
  const ModelSpec& spec() const override { return spec_; }
  Value build(Builder& b, bool last_position_only) const override {
    return opt::build(b, config_, weights_, last_position_only);
  }
  // Under the names build() gives them (the plan store binds by these).
  std::map<std::string, Tensor> weights_by_name() const override {
    std::map<std::string, Tensor> out;
    auto& w = const_cast<opt::Weights&>(weights_);  // the visitor takes non-const; nothing is written
    opt::for_each_tensor(config_, w, [&](const std::string& name, Tensor& t, const Shape&, bool) { out[name] = t; });
    out.erase("model.decoder.embed_positions.weight");
    out["model.decoder.embed_positions.weight[2:]"] = weights_.positions;
    out["lm_head.weight"] = weights_.lm_head;
    out["layer_norm.ones"] = weights_.ones;
    out["layer_norm.zeros"] = weights_.zeros;
    return out;
  }
  json config_json() const override { return config_.to_json(); }
  const cpu::PreparedWeights* prepared() const override { return weights_.prepared.get(); }

 private:
  OptConfig config_;
  opt::Weights weights_;
  ModelSpec spec_;
};

// Real shapes (facebook/opt-125m and opt-350m config.json) plus small test shapes: opt-tiny (pre-LN) and
// opt-tiny-postln (post-LN with project_in / project_out, as OPT-350m).
OptConfig preset(const std::string& name) {
  OptConfig c;
  auto shape = [&](int vocab, int hidden, int ffn, int layers, int heads, int max_pos) {
    c.vocab_size = vocab, c.hidden_size = hidden, c.ffn_dim = ffn, c.num_hidden_layers = layers;
    c.num_attention_heads = heads, c.max_position_embeddings = max_pos;
  };
  if (name == "opt-tiny") {
    shape(1000, 64, 128, 2, 4, 256);
  } else if (name == "opt-tiny-postln") {
    shape(1000, 64, 128, 2, 4, 256);
    c.word_embed_proj_dim = 32;
    c.do_layer_norm_before = false;
  } else if (name == "opt-125m") {
    shape(50272, 768, 3072, 12, 12, 2048);
  } else if (name == "opt-350m") {
    shape(50272, 1024, 4096, 24, 16, 2048);
    c.word_embed_proj_dim = 512;
    c.do_layer_norm_before = false;
  } else {
    JITGEN_CHECK(false);
  }
  return c;
}

// The preset with RandomModelOptions' overrides, validated like a loaded config.json.
OptConfig configure(const std::string& name, const RandomModelOptions& o) {
  const OptConfig c = preset(name);
  if (o.kv_heads && o.kv_heads != (o.heads ? o.heads : c.num_attention_heads))
    throw_invalid_argument("--n-kv-head: OPT has as many key/value heads as query heads");
  json j = c.to_json();
  if (o.layers) j["num_hidden_layers"] = o.layers;
  if (o.heads) j["num_attention_heads"] = o.heads;
  if (o.hidden) {
    j["hidden_size"] = o.hidden;
    if (!c.projects()) j["word_embed_proj_dim"] = o.hidden;  // still no projection
  }
  if (o.positions) j["max_position_embeddings"] = o.positions;
  if (o.vocab) {
    j["vocab_size"] = o.vocab;
    for (const char* id : {"pad_token_id", "bos_token_id", "eos_token_id"})
      if (j[id].is_number() && j[id].get<int>() >= o.vocab) j[id] = o.vocab - 1;
  }
  if (o.config.is_object()) j.merge_patch(o.config);
  return opt::parse_opt_config(j, "make-model options");
}

// Random tensors in HF layout, deterministic in (seed, name): the learned positions N(0, 0.3), the rest as PeakedInit
// (models/random_folder.h) says.
NamedTensors random_tensors(const OptConfig& c, uint64_t seed) {
  opt::Weights scratch;
  scratch.layers.resize(c.num_hidden_layers);
  const PeakedInit peaked{"model.decoder.embed_tokens.weight", "model.decoder.final_layer_norm.weight",
                          "layer_norm.weight"};
  return random_hf_tensors([&](auto&& fn) { opt::for_each_tensor(c, scratch, fn); }, seed,
                           [&](const std::string& name, const Shape& shape, bool linear) -> std::optional<Normal> {
                             if (name == "model.decoder.embed_positions.weight") return Normal{0.0f, 0.3f};
                             return peaked(name, shape, linear);
                           });
}

opt::Weights weights_from(const OptConfig& c, const NamedTensors& tensors) {
  opt::Weights w;
  w.layers.resize(c.num_hidden_layers);
  place_hf_tensors([&](auto&& fn) { opt::for_each_tensor(c, w, fn); }, tensors);
  return w;
}

}  // namespace

const Family& opt_family() {
  static const Family f{
      "opt",
      {"opt-tiny", "opt-tiny-postln", "opt-125m", "opt-350m"},
      [](const std::string& dir, const json& j, const std::string& path) {
        OptConfig c = opt::parse_opt_config(j, path);
        opt::Weights w = opt::load_weights(dir, c);
        return std::shared_ptr<const FamilyModel>(std::make_shared<OptModel>(std::move(c), std::move(w)));
      },
      [](const std::string& name, uint64_t seed) {
        OptConfig c = configure(name, {});
        opt::Weights w = weights_from(c, random_tensors(c, seed));
        opt::finish_weights(c, w, cpu::weight_storage_from_env());
        return std::shared_ptr<const FamilyModel>(std::make_shared<OptModel>(std::move(c), std::move(w)));
      },
      [](const std::string& name, const RandomModelOptions& opt, const std::string& dir) {
        const OptConfig c = configure(name, opt);
        check_random_folder_options(opt, c.num_hidden_layers, c.vocab_size);
        json gen = generation_config_json(c.bos_token_id, c.eos_token_id);
        gen["pad_token_id"] = c.pad_token_id < 0 ? json(nullptr) : json(c.pad_token_id);
        write_hf_folder(dir, random_tensors(c, opt.seed), c.to_json(), gen, opt);
        return fmt::format("random opt ({} layers, {} wide{}, {} heads, {}-LN, vocab {})", c.num_hidden_layers,
                           c.hidden_size, c.projects() ? fmt::format(", {}-wide embeddings", c.embed_dim()) : "",
                           c.num_attention_heads, c.do_layer_norm_before ? "pre" : "post", c.vocab_size);
      }};
  return f;
}

}  // namespace jitgen
