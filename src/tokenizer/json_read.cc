#include "tokenizer/json_read.h"

#include "jitgen/error.h"
#include "tokenizer/text.h"

namespace jitgen::tokenizer {

std::string json_quote(std::string_view s) { return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

namespace {
std::string shown(const nlohmann::json& v) {
  std::string d = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (d.size() > 120) d = d.substr(0, 117) + "...";
  return d;
}
}  // namespace

void Node::fail(const std::string& expected) const {
  throw_invalid_file(file_ + ": " + where_ + " is " + shown(*v_) + " (expected " + expected + ")");
}

void Node::fail_msg(const std::string& message) const { throw_invalid_file(file_ + ": " + where_ + " " + message); }

std::optional<Node> Node::get(const char* key) const {
  if (!v_->is_object()) return std::nullopt;
  auto it = v_->find(key);
  if (it == v_->end() || it->is_null()) return std::nullopt;
  return Node(*it, file_, where_ + "." + key);
}

Node Node::at(const char* key, const std::string& expected) const {
  if (auto n = get(key)) return *n;
  throw_invalid_file(file_ + ": " + where_ + "." + key + " is missing (expected " + expected + ")");
}

Node Node::index(size_t i) const { return Node((*v_)[i], file_, where_ + "[" + std::to_string(i) + "]"); }

std::string Node::type(const std::string& kinds) const {
  require_object("an object with a \"type\" (one of " + kinds + ")");
  Node t = at("type", "one of " + kinds);
  if (!t.json().is_string()) t.fail("one of " + kinds);
  return t.json().get<std::string>();
}

std::string Node::str(const char* key, const std::string& fallback) const {
  auto n = get(key);
  if (!n) return fallback;
  if (!n->json().is_string()) n->fail("a string");
  return n->json().get<std::string>();
}

std::string Node::req_str(const char* key) const {
  Node n = at(key, "a string");
  if (!n.json().is_string()) n.fail("a string");
  return n.json().get<std::string>();
}

bool Node::flag(const char* key, bool fallback) const {
  auto n = get(key);
  if (!n) return fallback;
  if (!n->json().is_boolean()) n->fail("true or false");
  return n->json().get<bool>();
}

int64_t Node::integer(const char* key, int64_t fallback, int64_t lo, int64_t hi) const {
  auto n = get(key);
  if (!n) return fallback;
  if (!n->json().is_number_integer() || n->json().get<int64_t>() < lo || n->json().get<int64_t>() > hi)
    n->fail("an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return n->json().get<int64_t>();
}

void Node::require_object(const std::string& expected) const {
  if (!v_->is_object()) fail(expected);
}
void Node::require_array(const std::string& expected) const {
  if (!v_->is_array()) fail(expected);
}

char32_t single_char(const Node& n) {
  if (!n.json().is_string()) n.fail("a one-character string");
  std::string s = n.json().get<std::string>();
  char32_t cp = 0;
  if (s.empty() || decode_utf8(s, 0, &cp) != s.size()) n.fail("a one-character string");
  return cp;
}

}  // namespace jitgen::tokenizer
