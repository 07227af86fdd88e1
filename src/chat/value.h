#pragma once
// Values of the chat-template language: what Python jinja2 sees when transformers renders a chat template
// (JSON data: None, bool, int, float, str, list, dict in insertion order), plus the objects templates make
// themselves (tuples, namespaces, the `loop` object, macros, jinja2's default Undefined).
// Printing, truthiness, equality and ordering follow Python (str(), bool(), ==, <), because templates print
// and compare these values and the output must be byte-identical to jinja2's.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace jitgen::chat {

struct Value;
using List = std::vector<Value>;
// Insertion-ordered mapping (Python dict); chat data is small, so lookups are linear.
using Dict = std::vector<std::pair<Value, Value>>;
struct MacroDef;  // ast.h

enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace, kLoop, kMacro };

struct Value {
  Kind kind = Kind::kUndefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                 // kString; for kUndefined the hint jinja2 gives ("'x' is undefined")
  std::shared_ptr<List> list;    // kList (is_tuple: a Python tuple, printed with parentheses)
  std::shared_ptr<Dict> dict;    // kDict, kNamespace (mutable through `set ns.x`); kLoop: i = index0, list = items
  std::shared_ptr<const MacroDef> macro;  // kMacro (null: a built-in global function named by s)
  const void* closure = nullptr;          // kMacro: the scopes it was defined in (owned by the renderer: no cycle)
  bool is_tuple = false;

  static Value undefined(std::string hint) { Value v; v.s = std::move(hint); return v; }
  static Value none() { Value v; v.kind = Kind::kNone; return v; }
  static Value boolean(bool x) { Value v; v.kind = Kind::kBool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.kind = Kind::kInt; v.i = x; return v; }
  static Value number(double x) { Value v; v.kind = Kind::kFloat; v.f = x; return v; }
  static Value string(std::string x) { Value v; v.kind = Kind::kString; v.s = std::move(x); return v; }
  static Value list_of(List items, bool tuple = false) {
    Value v; v.kind = Kind::kList; v.list = std::make_shared<List>(std::move(items)); v.is_tuple = tuple; return v;
  }
  static Value dict_of(Dict items, Kind kind = Kind::kDict) {
    Value v; v.kind = kind; v.dict = std::make_shared<Dict>(std::move(items)); return v;
  }

  bool is_undefined() const { return kind == Kind::kUndefined; }
  bool is_number() const { return kind == Kind::kInt || kind == Kind::kFloat || kind == Kind::kBool; }
  double as_double() const { return kind == Kind::kFloat ? f : kind == Kind::kBool ? (b ? 1 : 0) : double(i); }
  // Mapping lookup (kDict/kNamespace/kLoop); nullptr when absent.
  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const { return find(Value::string(key)); }
};

// The error a template raises while rendering (jinja2's TemplateError family); the renderer adds the position.
struct RenderError {
  std::string message;
};

// Python type name as jinja2 error messages print it ("dict object", "str object", ...).
std::string type_name(const Value& v);
// Python str(v) (Undefined prints as ""); repr(v) for container elements.
std::string to_str(const Value& v);
std::string repr(const Value& v);
std::string python_float_repr(double x);
bool truthy(const Value& v);
// Python ==, with jinja2's Undefined: equal only to another Undefined.
bool equals(const Value& a, const Value& b);
// Python <: numbers, strings (code-point order), lists and tuples lexicographically; other pairs raise.
bool less(const Value& a, const Value& b);
// Python len() of a string (code points), list or mapping; throws RenderError for other values.
int64_t length(const Value& v);
// The items `for x in v` visits: list items, dict keys, string characters; Undefined is empty.
List iterate(const Value& v);

// JSON in and out. from_json keeps object key order (nlohmann::ordered_json). to_json_text is Python's
// json.dumps(v, ensure_ascii=False, indent=indent, separators=..., sort_keys=...) as transformers' tojson
// filter calls it; indent nullptr means None (one line, ", " and ": "), else the text of one indent level.
Value from_json(const nlohmann::ordered_json& j);
std::string to_json_text(const Value& v, const std::string* indent, bool sort_keys, const std::string* item_sep,
                         const std::string* key_sep);

// UTF-8 helpers shared by the lexer and the builtins.
std::vector<uint32_t> decode_utf8(const std::string& s);
void append_utf8(std::string& out, uint32_t cp);
bool is_py_space(uint32_t cp);

}  // namespace jitgen::chat
