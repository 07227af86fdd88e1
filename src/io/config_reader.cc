#include "io/config_reader.h"

#include <climits>
#include <cmath>

#include <fmt/format.h>

#include "jitgen/error.h"

namespace jitgen::io {

using json = nlohmann::json;

namespace {
// HF ACT2FN names (transformers/activations.py); `ours` is what we normalise a supported one to.
struct HfActivation {
  const char* hf_name;
  const char* ours;  // nullptr: a real HF activation that jitgen does not implement
};
constexpr HfActivation kActivations[] = {
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

}  // namespace

std::string brief(const json& v, size_t max_len) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > max_len) s = s.substr(0, max_len) + "...";
  return s;
}

std::string normalize_activation(const json& v, const std::string& path, const char* field) {
  if (!v.is_string())
    throw_invalid_file(fmt::format("{}: field \"{}\" must be a string, got {}", path, field, brief(v)));
  const std::string name = v.get<std::string>();
  for (const auto& a : kActivations) {
    if (name != a.hf_name) continue;
    if (!a.ours)
      throw_invalid_file(fmt::format("{}: field \"{}\" {} is not supported (supported: {})", path, field, brief(v),
                                     kSupportedActivations));
    return a.ours;
  }
  throw_invalid_file(fmt::format("{}: field \"{}\" is unknown activation {} (supported: {})", path, field,
                                 brief(v), kSupportedActivations));
}

const json* ConfigReader::find(const char* name, const char* alias) const {
  const json* a = lookup(name);
  const json* b = alias ? lookup(alias) : nullptr;
  if (a && b && *a != *b)
    throw_invalid_file(fmt::format("{}: field \"{}\" is {} but its alias \"{}\" is {}", path_, name, brief(*a),
                                   alias, brief(*b)));
  return a ? a : b;
}

void ConfigReader::fail(const char* name, const char* expected, const json& got) const {
  throw_invalid_file(fmt::format("{}: field \"{}\" must be {}, got {}", path_, name, expected, brief(got)));
}

void ConfigReader::positive_int(int& out, const char* name, const char* alias) const {
  const json* v = find(name, alias);
  if (!v) return;
  if (!v->is_number_integer()) fail(name, "a positive integer", *v);
  if (v->is_number_unsigned() ? (v->get<uint64_t>() == 0 || v->get<uint64_t>() > INT_MAX)
                              : (v->get<int64_t>() <= 0 || v->get<int64_t>() > INT_MAX))
    fail(name, "a positive integer", *v);
  out = static_cast<int>(v->get<int64_t>());
}

void ConfigReader::boolean(bool& out, const char* name) const {
  const json* v = find(name);
  if (!v) return;
  if (!v->is_boolean()) fail(name, "true or false", *v);
  out = v->get<bool>();
}

void ConfigReader::number(double& out, const char* name, bool positive) const {
  const json* v = find(name);
  if (!v) return;
  if (!v->is_number() || !std::isfinite(v->get<double>()) || (positive && v->get<double>() <= 0))
    fail(name, positive ? "a positive number" : "a finite number", *v);
  out = v->get<double>();
}

std::vector<int> ConfigReader::token_ids(const char* name, std::vector<int> dflt) const {
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

const json* ConfigReader::lookup(const char* name) const {
  auto it = j_.find(name);
  return it == j_.end() ? nullptr : &*it;
}

}  // namespace jitgen::io
