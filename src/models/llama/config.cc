#include "models/llama/config.h"

#include <cmath>

#include <fmt/format.h>

#include "io/config_reader.h"
#include "jitgen/error.h"

namespace jitgen::llama {

using json = nlohmann::json;

namespace {

constexpr const char* kRopeTypes = "default, linear, dynamic, llama3, yarn";

// A number field of the rope dict `where` ("rope_scaling" / "rope_parameters").
double rope_number(const json& r, const char* key, const std::string& path, const std::string& where,
                   std::optional<double> dflt, bool positive) {
  auto it = r.find(key);
  if (it == r.end() || it->is_null()) {
    if (!dflt)
      throw_invalid_file(fmt::format("{}: field \"{}.{}\" is missing (rope_type \"{}\" needs it)", path, where, key,
                                     r.value("rope_type", r.value("type", std::string("?")))));
    return *dflt;
  }
  if (!it->is_number() || !std::isfinite(it->get<double>()) || (positive && it->get<double>() <= 0))
    throw_invalid_file(fmt::format("{}: field \"{}.{}\" must be a {}number, got {}", path, where, key,
                                   positive ? "positive " : "", io::brief(*it)));
  return it->get<double>();
}

void parse_rope(const json& j, const std::string& path, LlamaConfig& c) {
  RopeConfig& rope = c.rope;
  io::ConfigReader r(j, path);
  r.number(rope.theta, "rope_theta", true);
  r.number(rope.partial_rotary_factor, "partial_rotary_factor", true);
  std::string where = "rope_parameters";
  const json* d = r.find("rope_parameters");
  if (!d || d->is_null()) {
    where = "rope_scaling";
    d = r.find("rope_scaling");
  }
  if (!d || d->is_null()) return;
  if (!d->is_object())
    throw_invalid_file(fmt::format("{}: field \"{}\" must be an object or null, got {}", path, where, io::brief(*d)));
  rope.source = *d;
  const json* type = nullptr;
  if (auto it = d->find("rope_type"); it != d->end()) type = &*it;
  else if (auto it2 = d->find("type"); it2 != d->end()) type = &*it2;
  if (type && !type->is_string())
    throw_invalid_file(fmt::format("{}: field \"{}.rope_type\" must be a string, got {}", path, where,
                                   io::brief(*type)));
  rope.type = type ? type->get<std::string>() : "default";
  if (rope.type != "default" && rope.type != "linear" && rope.type != "dynamic" && rope.type != "llama3" &&
      rope.type != "yarn")
    throw_invalid_file(fmt::format("{}: field \"{}.rope_type\" is \"{}\", which jitgen does not implement "
                                   "(supported: {})",
                                   path, where, rope.type, kRopeTypes));
  rope.theta = rope_number(*d, "rope_theta", path, where, rope.theta, true);
  rope.partial_rotary_factor =
      rope_number(*d, "partial_rotary_factor", path, where, rope.partial_rotary_factor, true);
  if (rope.type == "default") return;
  const double max_pos = c.max_position_embeddings;
  if (rope.type == "yarn") {
    rope.original_max_position_embeddings =
        static_cast<int>(rope_number(*d, "original_max_position_embeddings", path, where, max_pos, true));
    rope.factor = rope_number(*d, "factor", path, where, max_pos / rope.original_max_position_embeddings, true);
    rope.attention_factor = rope_number(*d, "attention_factor", path, where, 0.0, false);
    // HF: `beta_fast or 32`, `beta_slow or 1` (0 means the default too).
    rope.beta_fast = rope_number(*d, "beta_fast", path, where, 32.0, false);
    if (rope.beta_fast == 0) rope.beta_fast = 32;
    rope.beta_slow = rope_number(*d, "beta_slow", path, where, 1.0, false);
    if (rope.beta_slow == 0) rope.beta_slow = 1;
    rope.mscale = rope_number(*d, "mscale", path, where, 0.0, false);
    rope.mscale_all_dim = rope_number(*d, "mscale_all_dim", path, where, 0.0, false);
    if (auto it = d->find("truncate"); it != d->end() && !it->is_null()) {
      if (!it->is_boolean())
        throw_invalid_file(fmt::format("{}: field \"{}.truncate\" must be true or false, got {}", path, where,
                                       io::brief(*it)));
      rope.truncate = it->get<bool>();
    }
    return;
  }
  rope.factor = rope_number(*d, "factor", path, where, std::nullopt, true);
  if (rope.type == "llama3") {
    rope.low_freq_factor = rope_number(*d, "low_freq_factor", path, where, std::nullopt, true);
    rope.high_freq_factor = rope_number(*d, "high_freq_factor", path, where, std::nullopt, true);
    if (rope.high_freq_factor <= rope.low_freq_factor)
      throw_invalid_file(fmt::format("{}: field \"{}.high_freq_factor\" ({}) must exceed low_freq_factor ({})", path,
                                     where, rope.high_freq_factor, rope.low_freq_factor));
    rope.original_max_position_embeddings =
        static_cast<int>(rope_number(*d, "original_max_position_embeddings", path, where, max_pos, true));
  }
}

}  // namespace

LlamaConfig defaults_for(const std::string& model_type) {
  LlamaConfig c;
  c.model_type = model_type;
  if (model_type == "mistral") {
    c.intermediate_size = 14336;
    c.num_key_value_heads = 8;
    c.max_position_embeddings = 4096 * 32;
    c.sliding_window = 4096;
  } else if (model_type == "qwen2") {
    c.vocab_size = 151936;
    c.intermediate_size = 22016;
    c.max_position_embeddings = 32768;
    c.sliding_window = 4096;  // only with use_sliding_window
    c.bos_token_id = c.eos_token_id = -1;
    c.eos_token_ids = {};
  }
  return c;
}

LlamaConfig parse_llama_config(const json& j, const std::string& path) {
  if (!j.is_object()) throw_invalid_file(fmt::format("{}: must be a JSON object, got {}", path, j.type_name()));
  io::ConfigReader r(j, path);
  const json* mt = r.find("model_type");
  if (!mt || !mt->is_string())
    throw_invalid_file(fmt::format("{}: field \"model_type\" must be \"llama\", \"mistral\" or \"qwen2\"", path));
  LlamaConfig c = defaults_for(mt->get<std::string>());
  r.positive_int(c.vocab_size, "vocab_size");
  r.positive_int(c.hidden_size, "hidden_size");
  r.positive_int(c.intermediate_size, "intermediate_size");
  r.positive_int(c.num_hidden_layers, "num_hidden_layers");
  r.positive_int(c.num_attention_heads, "num_attention_heads");
  if (const json* v = r.find("num_key_value_heads"); v && !v->is_null()) r.positive_int(c.num_key_value_heads, "num_key_value_heads");
  if (const json* v = r.find("head_dim"); v && !v->is_null()) r.positive_int(c.head_dim, "head_dim");
  r.positive_int(c.max_position_embeddings, "max_position_embeddings");
  for (auto [value, name] : {std::pair{c.vocab_size, "vocab_size"}, {c.hidden_size, "hidden_size"},
                             {c.intermediate_size, "intermediate_size"}, {c.num_hidden_layers, "num_hidden_layers"},
                             {c.num_attention_heads, "num_attention_heads"}, {c.head_dim, "head_dim"},
                             {c.max_position_embeddings, "max_position_embeddings"}})
    if (value > (1 << 24))
      throw_invalid_file(fmt::format("{}: field \"{}\" is {}, expected at most {}", path, name, value, 1 << 24));
  r.number(c.rms_norm_eps, "rms_norm_eps", true);
  if (const json* v = r.find("hidden_act")) c.hidden_act = io::normalize_activation(*v, path, "hidden_act");
  r.boolean(c.tie_word_embeddings, "tie_word_embeddings");
  if (c.model_type == "llama") {
    r.boolean(c.attention_bias, "attention_bias");
    r.boolean(c.mlp_bias, "mlp_bias");
  }
  if (c.model_type == "mistral" || c.model_type == "qwen2") {
    if (const json* v = r.find("sliding_window")) {
      if (v->is_null()) c.sliding_window = 0;
      else r.positive_int(c.sliding_window, "sliding_window");
    }
  }
  if (c.model_type == "qwen2") {
    r.boolean(c.use_sliding_window, "use_sliding_window");
    if (const json* v = r.find("max_window_layers"); v && !v->is_null()) {
      if (!v->is_number_integer() || v->get<int64_t>() < 0 || v->get<int64_t>() > (1 << 24))
        r.fail("max_window_layers", "a non-negative integer", *v);
      c.max_window_layers = static_cast<int>(v->get<int64_t>());
    }
    if (!c.use_sliding_window) c.sliding_window = 0;  // Qwen2Config: sliding_window only with use_sliding_window
  }
  const std::vector<int> dflt_eos = c.eos_token_ids;
  const std::vector<int> bos = r.token_ids("bos_token_id", c.bos_token_id < 0 ? std::vector<int>{}
                                                                               : std::vector<int>{c.bos_token_id});
  c.bos_token_id = bos.empty() ? -1 : bos.front();
  c.eos_token_ids = r.token_ids("eos_token_id", dflt_eos);
  c.eos_token_id = c.eos_token_ids.empty() ? -1 : c.eos_token_ids.front();

  if (c.hidden_size % c.num_attention_heads != 0)
    throw_invalid_file(fmt::format("{}: field \"hidden_size\" ({}) must be divisible by \"num_attention_heads\" ({})",
                                   path, c.hidden_size, c.num_attention_heads));
  if (c.num_attention_heads % c.kv_heads() != 0)
    throw_invalid_file(fmt::format("{}: field \"num_key_value_heads\" ({}) must divide \"num_attention_heads\" ({})",
                                   path, c.kv_heads(), c.num_attention_heads));
  parse_rope(j, path, c);
  const int rotary = static_cast<int>(c.dim() * c.rope.partial_rotary_factor);
  if (c.rope.partial_rotary_factor != 1.0)
    throw_invalid_file(fmt::format("{}: field \"partial_rotary_factor\" is {}; HF's {} rotates the whole head "
                                   "(only 1.0 is supported)",
                                   path, c.rope.partial_rotary_factor, c.model_type));
  if (rotary < 2 || rotary % 2 != 0)
    throw_invalid_file(fmt::format("{}: rotary dimension {} (head_dim x partial_rotary_factor) must be even and >= 2",
                                   path, rotary));
  if (c.rope.type == "dynamic" && rotary <= 2)
    throw_invalid_file(fmt::format("{}: rope_type \"dynamic\" needs a rotary dimension > 2, got {}", path, rotary));

  // Per-layer attention kind: "layer_types" as saved by transformers 5, else HF's rule for the family.
  if (const json* v = r.find("layer_types"); v && !v->is_null()) {
    if (!v->is_array() || static_cast<int>(v->size()) != c.num_hidden_layers)
      r.fail("layer_types", "a list with one entry per layer", *v);
    for (const json& t : *v) {
      if (!t.is_string() || (t != "full_attention" && t != "sliding_attention"))
        r.fail("layer_types", "a list of \"full_attention\" / \"sliding_attention\"", *v);
      c.layer_types.push_back(t.get<std::string>());
    }
  } else {
    for (int i = 0; i < c.num_hidden_layers; ++i) {
      const bool sliding = c.sliding_window > 0 && (c.model_type == "mistral" ||
                                                    (c.model_type == "qwen2" && i >= c.max_window_layers));
      c.layer_types.push_back(sliding ? "sliding_attention" : "full_attention");
    }
  }
  for (const std::string& t : c.layer_types)
    if (t == "sliding_attention" && c.sliding_window <= 0)
      throw_invalid_file(fmt::format("{}: field \"layer_types\" has a sliding_attention layer but no sliding_window",
                                     path));
  return c;
}

json LlamaConfig::to_json() const {
  auto token = [](int id) { return id < 0 ? json(nullptr) : json(id); };
  static const std::map<std::string, std::string> arch = {
      {"llama", "LlamaForCausalLM"}, {"mistral", "MistralForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"}};
  json j{{"architectures", {arch.at(model_type)}},
         {"model_type", model_type},
         {"vocab_size", vocab_size},
         {"hidden_size", hidden_size},
         {"intermediate_size", intermediate_size},
         {"num_hidden_layers", num_hidden_layers},
         {"num_attention_heads", num_attention_heads},
         {"num_key_value_heads", kv_heads()},
         {"head_dim", dim()},
         {"hidden_act", hidden_act},
         {"max_position_embeddings", max_position_embeddings},
         {"rms_norm_eps", std::stod(fmt::format("{}", rms_norm_eps))},
         {"tie_word_embeddings", tie_word_embeddings},
         {"rope_theta", rope.theta},
         {"rope_scaling", rope.source.is_object() ? rope.source : json(nullptr)},
         {"bos_token_id", token(bos_token_id)},
         {"eos_token_id", eos_token_ids.size() > 1 ? json(eos_token_ids) : token(eos_token_id)},
         {"initializer_range", 0.02},
         {"use_cache", true},
         {"torch_dtype", "float32"}};
  if (model_type == "llama") {
    j["attention_bias"] = attention_bias;
    j["mlp_bias"] = mlp_bias;
  }
  if (model_type == "mistral") j["sliding_window"] = sliding_window > 0 ? json(sliding_window) : json(nullptr);
  if (model_type == "qwen2") {
    j["use_sliding_window"] = use_sliding_window;
    j["sliding_window"] = sliding_window > 0 ? json(sliding_window) : json(nullptr);
    j["max_window_layers"] = max_window_layers;
    j["layer_types"] = layer_types;
  }
  return j;
}

}  // namespace jitgen::llama
