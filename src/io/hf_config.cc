#include "io/hf_config.h"

#include <climits>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "jitgen/error.h"

namespace jitgen::io {
namespace {

using json = nlohmann::json;

std::string brief(const json& v, size_t max_len = 60) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > max_len) s = s.substr(0, max_len) + "...";
  return s;
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return s;
}

// HF ACT2FN names (transformers/activations.py); `ours` is what we normalise a supported one to.
struct Activation {
  const char* hf_name;
  const char* ours;  // nullptr: a real HF activation that jitgen does not implement
};
constexpr Activation kActivations[] = {
    {"gelu_new", "gelu_new"},
    {"gelu_pytorch_tanh", "gelu_pytorch_tanh"},
    {"gelu_fast", "gelu_fast"},
    {"gelu", "gelu"},
    {"gelu_python", "gelu"},
    {"relu", "relu"},
    {"silu", "silu"},
    {"swish", "silu"},
    {"gelu_10", nullptr},
    {"gelu_accurate", nullptr},
    {"laplace", nullptr},
    {"leaky_relu", nullptr},
    {"linear", nullptr},
    {"mish", nullptr},
    {"quick_gelu", nullptr},
    {"relu2", nullptr},
    {"relu6", nullptr},
    {"sigmoid", nullptr},
    {"tanh", nullptr},
    {"prelu", nullptr},
    {"xielu", nullptr},
};
constexpr const char* kSupportedActivations = "gelu_new, gelu_pytorch_tanh, gelu_fast, gelu, relu, silu";

class Reader {
 public:
  Reader(const json& j, const std::string& path) : j_(j), path_(path) {}

  // The value of `name` or of its HF alias (GPT2Config.attribute_map); nullptr when neither is present.
  const json* find(const char* name, const char* alias = nullptr) const {
    const json* a = lookup(name);
    const json* b = alias ? lookup(alias) : nullptr;
    if (a && b && *a != *b)
      throw_invalid_file(fmt::format("{}: field \"{}\" is {} but its alias \"{}\" is {}", path_, name, brief(*a),
                                     alias, brief(*b)));
    return a ? a : b;
  }
  [[noreturn]] void fail(const char* name, const char* expected, const json& got) const {
    throw_invalid_file(fmt::format("{}: field \"{}\" must be {}, got {}", path_, name, expected, brief(got)));
  }

  void positive_int(int& out, const char* name, const char* alias = nullptr) const {
    const json* v = find(name, alias);
    if (!v) return;
    if (!v->is_number_integer()) fail(name, "a positive integer", *v);
    if (v->is_number_unsigned() ? (v->get<uint64_t>() == 0 || v->get<uint64_t>() > INT_MAX)
                                : (v->get<int64_t>() <= 0 || v->get<int64_t>() > INT_MAX))
      fail(name, "a positive integer", *v);
    out = static_cast<int>(v->get<int64_t>());
  }
  void boolean(bool& out, const char* name) const {
    const json* v = find(name);
    if (!v) return;
    if (!v->is_boolean()) fail(name, "true or false", *v);
    out = v->get<bool>();
  }
  // int >= 0, null (-> -1) or a non-empty list of such ints (-> all of them).
  std::vector<int> token_ids(const char* name, std::vector<int> dflt) const {
    const json* v = find(name);
    if (!v) return dflt;
    if (v->is_null()) return {};
    auto one = [&](const json& x) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || (x.is_number_unsigned() && x.get<uint64_t>() > INT_MAX) ||
          x.get<int64_t>() > INT_MAX)
        fail(name, "a token id (non-negative integer), a list of token ids, or null", *v);
      return static_cast<int>(x.get<int64_t>());
    };
    if (v->is_array()) {
      if (v->empty()) fail(name, "a token id (non-negative integer), a list of token ids, or null", *v);
      std::vector<int> ids;
      for (const auto& x : *v) ids.push_back(one(x));
      return ids;
    }
    return {one(*v)};
  }

  const std::string& path() const { return path_; }

 private:
  const json* lookup(const char* name) const {
    auto it = j_.find(name);
    return it == j_.end() ? nullptr : &*it;
  }
  const json& j_;
  const std::string& path_;
};

}  // namespace

std::string describe_json_error(const std::exception& e) {
  std::string what = e.what();
  // nlohmann: "[json.exception.parse_error.101] parse error at line 3, column 7: syntax error ..."
  if (auto p = what.find("] "); what.rfind("[json.exception.", 0) == 0 && p != std::string::npos)
    what = what.substr(p + 2);
  if (what.rfind("parse error at ", 0) == 0) what = what.substr(15);
  return one_line(what);
}

json read_json_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw_invalid_file(fmt::format("{}: file not found", path));
  if (std::filesystem::is_directory(path, ec)) throw_invalid_file(fmt::format("{}: is a directory, not a JSON file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_invalid_file(fmt::format("{}: cannot open for reading", path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw_invalid_file(fmt::format("{}: read error", path));
  const std::string text = ss.str();
  // nlohmann's lexer treats a NUL byte as the end of input; JSON text never contains a raw NUL.
  if (auto nul = text.find('\0'); nul != std::string::npos)
    throw_invalid_file(fmt::format("{}: malformed JSON: NUL byte at offset {}", path, nul));
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw_invalid_file(fmt::format("{}: malformed JSON at {}", path, describe_json_error(e)));
  }
}

Gpt2Config parse_gpt2_config(const json& j, const std::string& path) {
  if (!j.is_object()) throw_invalid_file(fmt::format("{}: must be a JSON object, got {}", path, j.type_name()));
  Reader r(j, path);
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
  if (const json* v = r.find("activation_function")) {
    if (!v->is_string()) r.fail("activation_function", "a string", *v);
    const std::string name = v->get<std::string>();
    const Activation* found = nullptr;
    for (const auto& a : kActivations)
      if (name == a.hf_name) found = &a;
    if (!found)
      throw_invalid_file(fmt::format("{}: field \"activation_function\" is unknown activation {} (supported: {})",
                                     path, brief(*v), kSupportedActivations));
    if (!found->ours)
      throw_invalid_file(fmt::format("{}: field \"activation_function\" {} is not supported (supported: {})", path,
                                     brief(*v), kSupportedActivations));
    c.activation_function = found->ours;
  }
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

json load_generation_defaults(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return json::object();
  json j = read_json_file(path);
  if (!j.is_object())
    throw_invalid_file(fmt::format("{}: must be a JSON object, got {}", path, j.type_name()));
  return j;
}

}  // namespace jitgen::io
