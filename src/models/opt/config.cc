#include "models/opt/config.h"

#include <fmt/format.h>

#include "io/config_reader.h"
#include "jitgen/error.h"

namespace jitgen::opt {

using json = nlohmann::json;

OptConfig parse_opt_config(const json& j, const std::string& path) {
  if (!j.is_object()) throw_invalid_file(fmt::format("{}: must be a JSON object, got {}", path, j.type_name()));
  io::ConfigReader r(j, path);
  OptConfig c;
  r.positive_int(c.vocab_size, "vocab_size");
  r.positive_int(c.hidden_size, "hidden_size");
  r.positive_int(c.num_hidden_layers, "num_hidden_layers");
  r.positive_int(c.ffn_dim, "ffn_dim");
  r.positive_int(c.max_position_embeddings, "max_position_embeddings");
  r.positive_int(c.num_attention_heads, "num_attention_heads");
  if (const json* v = r.find("word_embed_proj_dim"); v && !v->is_null())
    r.positive_int(c.word_embed_proj_dim, "word_embed_proj_dim");
  for (auto [value, name] : {std::pair{c.vocab_size, "vocab_size"}, {c.hidden_size, "hidden_size"},
                             {c.num_hidden_layers, "num_hidden_layers"}, {c.ffn_dim, "ffn_dim"},
                             {c.max_position_embeddings, "max_position_embeddings"},
                             {c.num_attention_heads, "num_attention_heads"},
                             {c.word_embed_proj_dim, "word_embed_proj_dim"}})
    if (value > (1 << 24))
      throw_invalid_file(fmt::format("{}: field \"{}\" is {}, expected at most {}", path, name, value, 1 << 24));
  r.boolean(c.do_layer_norm_before, "do_layer_norm_before");
  r.boolean(c.remove_final_layer_norm, "_remove_final_layer_norm");
  r.boolean(c.enable_bias, "enable_bias");
  r.boolean(c.layer_norm_elementwise_affine, "layer_norm_elementwise_affine");
  r.boolean(c.tie_word_embeddings, "tie_word_embeddings");
  if (const json* v = r.find("activation_function"))
    c.activation_function = io::normalize_activation(*v, path, "activation_function");
  const std::vector<int> pad = r.token_ids("pad_token_id", {c.pad_token_id});
  c.pad_token_id = pad.empty() ? -1 : pad.front();
  const std::vector<int> bos = r.token_ids("bos_token_id", {c.bos_token_id});
  c.bos_token_id = bos.empty() ? -1 : bos.front();
  c.eos_token_ids = r.token_ids("eos_token_id", c.eos_token_ids);
  c.eos_token_id = c.eos_token_ids.empty() ? -1 : c.eos_token_ids.front();
  if (c.hidden_size % c.num_attention_heads != 0)
    throw_invalid_file(fmt::format("{}: field \"hidden_size\" ({}) must be divisible by \"num_attention_heads\" ({})",
                                   path, c.hidden_size, c.num_attention_heads));
  return c;
}

json OptConfig::to_json() const {
  auto token = [](int id) { return id < 0 ? json(nullptr) : json(id); };
  return json{{"architectures", {"OPTForCausalLM"}},
              {"model_type", "opt"},
              {"vocab_size", vocab_size},
              {"hidden_size", hidden_size},
              {"num_hidden_layers", num_hidden_layers},
              {"ffn_dim", ffn_dim},
              {"max_position_embeddings", max_position_embeddings},
              {"do_layer_norm_before", do_layer_norm_before},
              {"_remove_final_layer_norm", remove_final_layer_norm},
              {"word_embed_proj_dim", embed_dim()},
              {"num_attention_heads", num_attention_heads},
              {"activation_function", activation_function},
              {"enable_bias", enable_bias},
              {"layer_norm_elementwise_affine", layer_norm_elementwise_affine},
              {"tie_word_embeddings", tie_word_embeddings},
              {"pad_token_id", token(pad_token_id)},
              {"bos_token_id", token(bos_token_id)},
              {"eos_token_id", eos_token_ids.size() > 1 ? json(eos_token_ids) : token(eos_token_id)},
              {"dropout", 0.1},
              {"attention_dropout", 0.0},
              {"layerdrop", 0.0},
              {"init_std", 0.02},
              {"use_cache", true},
              {"torch_dtype", "float32"}};
}

}  // namespace jitgen::opt
