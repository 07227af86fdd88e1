#pragma once
// Typed reading of Hugging Face config.json fields, shared by every model family's config parser. Every
// failure is one line naming the file, the field and what was expected (kInvalidFile).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace jitgen::io {

// A value for messages: compact JSON, cut at max_len characters.
std::string brief(const nlohmann::json& v, size_t max_len = 60);

// Checks an HF ACT2FN name (transformers/activations.py) as config field `field`; returns our normalised name
// ("swish" -> "silu", "gelu_python" -> "gelu") or throws naming the supported ones.
std::string normalize_activation(const nlohmann::json& v, const std::string& path, const char* field);

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& j, const std::string& path) : j_(j), path_(path) {}

  // The value of `name` or of its HF alias (attribute_map); nullptr when neither is present.
  const nlohmann::json* find(const char* name, const char* alias = nullptr) const;
  [[noreturn]] void fail(const char* name, const char* expected, const nlohmann::json& got) const;
  void positive_int(int& out, const char* name, const char* alias = nullptr) const;
  void boolean(bool& out, const char* name) const;
  // A finite number; when given, also a positive one.
  void number(double& out, const char* name, bool positive) const;
  // int >= 0, null (-> {}) or a non-empty list of such ints (-> all of them); absent -> dflt.
  std::vector<int> token_ids(const char* name, std::vector<int> dflt) const;
  const std::string& path() const { return path_; }

 private:
  const nlohmann::json* lookup(const char* name) const;
  const nlohmann::json& j_;
  const std::string& path_;
};

}  // namespace jitgen::io
