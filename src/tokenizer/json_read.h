#pragma once
// Reading tokenizer.json components with one-line errors that name the file, the component path
// (e.g. `pre_tokenizer.pretokenizers[1].behavior`), the value seen and what was expected.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace jitgen::tokenizer {

std::string json_quote(std::string_view s);  // JSON string literal of s

class Node {
 public:
  Node(const nlohmann::json& v, std::string file, std::string where) : v_(&v), file_(std::move(file)), where_(std::move(where)) {}

  const nlohmann::json& json() const { return *v_; }
  const std::string& file() const { return file_; }
  const std::string& where() const { return where_; }

  // "<file>: <where> is <value> (expected <expected>)".
  [[noreturn]] void fail(const std::string& expected) const;
  // "<file>: <where> <message>" for errors that are not about this value's form.
  [[noreturn]] void fail_msg(const std::string& message) const;

  // Child `key` when present and not null.
  std::optional<Node> get(const char* key) const;
  // Child `key`; missing or null fails with "<where>.<key> is missing (expected <expected>)".
  Node at(const char* key, const std::string& expected) const;
  Node index(size_t i) const;

  // The required "type" string of a component; `kinds` lists the accepted names for the message.
  std::string type(const std::string& kinds) const;
  std::string str(const char* key, const std::string& fallback) const;  // fallback when absent / null
  std::string req_str(const char* key) const;
  bool flag(const char* key, bool fallback) const;
  int64_t integer(const char* key, int64_t fallback, int64_t lo, int64_t hi) const;
  void require_object(const std::string& expected) const;
  void require_array(const std::string& expected) const;

 private:
  const nlohmann::json* v_;
  std::string file_;
  std::string where_;
};

// One Unicode scalar (a 1-char string) from a JSON string field, for Metaspace replacement / Strip content.
char32_t single_char(const Node& n);

// The {"String": s} / {"Regex": r} pattern of Replace and Split as a regex source (a literal is escaped).
std::string pattern_of(const Node& n);

}  // namespace jitgen::tokenizer
