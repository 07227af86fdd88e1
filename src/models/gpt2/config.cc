#include "models/gpt2/config.h"

#include <cmath>

#include <fmt/format.h>

#include "io/config_reader.h"
#include "io/hf_config.h"
#include "jitgen/error.h"

namespace jitgen::io {

using json = nlohmann::json;

Gpt2Config parse_gpt2_config(const json& j, const std::string& path) {
  if (!j.is_object()) throw_invalid_file(fmt::format("{}: must be a JSON object, got {}", path, j.type_name()));
  ConfigReader r(j, path);
  Gpt2Config c;

  const json* mt = r.find("model_type");
  if (!mt) throw_invalid_file(fmt::format("{}: missing field \"model_type\" (expected \"gpt2\")", path));
  if (!mt->is_string()) r.fail("model_type", "a string (\"gpt2\")", *mt);
  if (mt->get<std::string>() != "gpt2")
    throw_invalid_file(fmt::format("{}: field \"model_type\" is {}, but only \"gpt2\" is supported", path,
                                   brief(*mt)));
  c.model_type = "gpt2";

  r.positive_int(c.n_layer, "n_layer", "num_hidden_layers");
  r.positive_int(c.n_head, "n_head", "num_attention_heads");
  r.positive_int(c.n_embd, "n_embd", "hidden_size");
  r.positive_int(c.n_positions, "n_positions", "max_position_embeddings");
  r.positive_int(c.vocab_size, "vocab_size");
  if (const json* v = r.find("n_inner"); v && !v->is_null()) r.positive_int(c.n_inner, "n_inner");
  // Sizes multiply (4 * n_embd, V * C, ...): bound each so no product overflows (found by fuzzing).
  for (auto [value, name] : {std::pair{c.n_layer, "n_layer"}, {c.n_head, "n_head"}, {c.n_embd, "n_embd"},
                             {c.n_positions, "n_positions"}, {c.vocab_size, "vocab_size"}, {c.n_inner, "n_inner"}})
    if (value > (1 << 24))
      throw_invalid_file(fmt::format("{}: field \"{}\" is {}, expected at most {}", path, name, value, 1 << 24));

  if (const json* v = r.find("layer_norm_epsilon")) {
    if (!v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() <= 0 || v->get<double>() > 1)
      r.fail("layer_norm_epsilon", "a positive number", *v);
    c.layer_norm_epsilon = static_cast<float>(v->get<double>());
  }
  if (const json* v = r.find("activation_function"))
    c.activation_function = normalize_activation(*v, path, "activation_function");
  r.boolean(c.scale_attn_weights, "scale_attn_weights");
  r.boolean(c.scale_attn_by_inverse_layer_idx, "scale_attn_by_inverse_layer_idx");
  r.boolean(c.tie_word_embeddings, "tie_word_embeddings");
  r.boolean(c.reorder_and_upcast_attn, "reorder_and_upcast_attn");
  if (const json* v = r.find("add_cross_attention")) {
    if (!v->is_boolean()) r.fail("add_cross_attention", "true or false", *v);
    if (v->get<bool>())
      throw_invalid_file(fmt::format("{}: field \"add_cross_attention\" is true; cross-attention is not supported",
                                     path));
  }

  const std::vector<int> bos = r.token_ids("bos_token_id", {50256});
  c.bos_token_id = bos.empty() ? -1 : bos.front();
  c.eos_token_ids = r.token_ids("eos_token_id", {50256});
  c.eos_token_id = c.eos_token_ids.empty() ? -1 : c.eos_token_ids.front();

  if (c.n_embd % c.n_head != 0)
    throw_invalid_file(fmt::format("{}: field \"n_embd\" ({}) must be divisible by \"n_head\" ({})", path, c.n_embd,
                                   c.n_head));
  return c;
}

Gpt2Config load_gpt2_config(const std::string& path) { return parse_gpt2_config(read_json_file(path), path); }

json Gpt2Config::to_json() const {
  auto token = [](int id) { return id < 0 ? json(nullptr) : json(id); };
  json eos = eos_token_ids.size() > 1 ? json(eos_token_ids) : token(eos_token_id);
  // Shortest decimal that round-trips the float, so 1e-5f is written as 1e-05, not 9.99999974737875e-06.
  const double eps = std::stod(fmt::format("{}", layer_norm_epsilon));
  return json{
      {"architectures", {"GPT2LMHeadModel"}},
      {"model_type", "gpt2"},
      {"activation_function", activation_function},
      {"attn_pdrop", 0.1},
      {"bos_token_id", token(bos_token_id)},
      {"embd_pdrop", 0.1},
      {"eos_token_id", eos},
      {"initializer_range", 0.02},
      {"layer_norm_epsilon", eps},
      {"n_ctx", n_positions},
      {"n_embd", n_embd},
      {"n_head", n_head},
      {"n_inner", n_inner > 0 ? json(n_inner) : json(nullptr)},
      {"n_layer", n_layer},
      {"n_positions", n_positions},
      {"reorder_and_upcast_attn", reorder_and_upcast_attn},
      {"resid_pdrop", 0.1},
      {"scale_attn_by_inverse_layer_idx", scale_attn_by_inverse_layer_idx},
      {"scale_attn_weights", scale_attn_weights},
      {"summary_activation", nullptr},
      {"summary_first_dropout", 0.1},
      {"summary_proj_to_labels", true},
      {"summary_type", "cls_index"},
      {"summary_use_proj", true},
      {"tie_word_embeddings", tie_word_embeddings},
      {"use_cache", true},
      {"vocab_size", vocab_size},
  };
}

}  // namespace jitgen::io
