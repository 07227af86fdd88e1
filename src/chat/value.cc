// Python semantics of template values (see value.h): str/repr, truthiness, ==, <, len, json.dumps.
#include "chat/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace jitgen::chat {

const Value* Value::find(const Value& key) const {
  if (!dict) return nullptr;
  for (const auto& [k, v] : *dict)
    if (equals(k, key)) return &v;
  return nullptr;
}

std::vector<uint32_t> decode_utf8(const std::string& s) {
  // Inputs come from JSON (valid UTF-8) or template text; an invalid byte decodes as itself (U+0080..U+00FF)
  // so that nothing is read past the end and round trips stay total.
  std::vector<uint32_t> out;
  out.reserve(s.size());
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > n) { out.push_back(c); ++i; continue; }
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      unsigned char d = s[i + k];
      if ((d >> 6) != 2) { ok = false; break; }
      cp = (cp << 6) | (d & 0x3F);
    }
    if (!ok) { out.push_back(c); ++i; continue; }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
  }
}

bool is_py_space(uint32_t cp) {  // Python str.isspace() / re's \s for str patterns
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

std::string type_name(const Value& v) {
  switch (v.kind) {
    case Kind::kUndefined: return "Undefined";
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kList: return v.is_tuple ? "tuple" : "list";
    case Kind::kDict: return "dict";
    case Kind::kNamespace: return "Namespace";
    case Kind::kLoop: return "LoopContext";
    case Kind::kMacro: return "Macro";
  }
  return "object";
}

std::string python_float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  // Shortest round-trip digits (what repr() picks), then Python's layout: scientific when the decimal
  // exponent is < -4 or >= 16, else positional with at least one fractional digit.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string mant = sci.substr(0, e);
  int exp10 = std::atoi(sci.c_str() + e + 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out = neg ? "-" : "";
  if (exp10 < -4 || exp10 >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    return out + eb;
  }
  if (exp10 < 0) return out + "0." + std::string(size_t(-exp10 - 1), '0') + digits;
  if (digits.size() <= size_t(exp10) + 1) return out + digits + std::string(exp10 + 1 - digits.size(), '0') + ".0";
  return out + digits.substr(0, exp10 + 1) + "." + digits.substr(exp10 + 1);
}

static std::string repr_string(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
  char q = has_single && !has_double ? '"' : '\'';
  std::string out(1, q);
  for (uint32_t cp : decode_utf8(s)) {
    char b[16];
    if (cp == uint32_t(q) || cp == '\\') { out += '\\'; out += char(cp); }
    else if (cp == '\n') out += "\\n";
    else if (cp == '\r') out += "\\r";
    else if (cp == '\t') out += "\\t";
    else if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) { std::snprintf(b, sizeof b, "\\x%02x", cp); out += b; }
    else if ((cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) || (cp >= 0x205F && cp <= 0x206F) ||
             cp == 0x3000 || cp == 0xFEFF || cp == 0x1680 || (cp >= 0xD800 && cp <= 0xDFFF)) {
      std::snprintf(b, sizeof b, "\\u%04x", cp); out += b;
    } else append_utf8(out, cp);
  }
  return out + q;
}

// Containers can hold themselves (`set ns.me = ns`): printing and comparing stop at this depth.
constexpr int kMaxDepth = 200;

static std::string to_str_at(const Value& v, int depth);

static std::string repr_at(const Value& v, int depth) {
  switch (v.kind) {
    case Kind::kString: return repr_string(v.s);
    case Kind::kUndefined: return "Undefined";
    default: return to_str_at(v, depth);
  }
}

std::string repr(const Value& v) { return repr_at(v, 0); }
std::string to_str(const Value& v) { return to_str_at(v, 0); }

static std::string to_str_at(const Value& v, int depth) {
  if (depth > kMaxDepth) throw RenderError{"value nested deeper than 200 levels (or containing itself)"};
  switch (v.kind) {
    case Kind::kUndefined: return "";
    case Kind::kNone: return "None";
    case Kind::kBool: return v.b ? "True" : "False";
    case Kind::kInt: return std::to_string(v.i);
    case Kind::kFloat: return python_float_repr(v.f);
    case Kind::kString: return v.s;
    case Kind::kList: {
      std::string out = v.is_tuple ? "(" : "[";
      for (size_t k = 0; k < v.list->size(); ++k) out += (k ? ", " : "") + repr_at((*v.list)[k], depth + 1);
      if (v.is_tuple && v.list->size() == 1) out += ",";
      return out + (v.is_tuple ? ")" : "]");
    }
    case Kind::kLoop:
      return "<LoopContext " + std::to_string(v.i + 1) + "/" + std::to_string(v.list->size()) + ">";
    case Kind::kDict: case Kind::kNamespace: {
      std::string out = v.kind == Kind::kNamespace ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& [k, x] : *v.dict) {
        out += (first ? "" : ", ") + repr_at(k, depth + 1) + ": " + repr_at(x, depth + 1);
        first = false;
      }
      return out + (v.kind == Kind::kDict ? "}" : "}>");
    }
    case Kind::kMacro: return "<Macro>";
  }
  return "";
}

bool truthy(const Value& v) {
  switch (v.kind) {
    case Kind::kUndefined: case Kind::kNone: return false;
    case Kind::kBool: return v.b;
    case Kind::kInt: return v.i != 0;
    case Kind::kFloat: return v.f != 0;
    case Kind::kString: return !v.s.empty();
    case Kind::kList: return !v.list->empty();
    case Kind::kDict: return !v.dict->empty();
    default: return true;
  }
}

static bool equals_at(const Value& a, const Value& b, int depth);
bool equals(const Value& a, const Value& b) { return equals_at(a, b, 0); }

static bool equals_at(const Value& a, const Value& b, int depth) {
  if (depth > kMaxDepth) throw RenderError{"value nested deeper than 200 levels (or containing itself)"};
  if (a.is_number() && b.is_number()) {
    if (a.kind == Kind::kFloat || b.kind == Kind::kFloat) return a.as_double() == b.as_double();
    return (a.kind == Kind::kBool ? int64_t(a.b) : a.i) == (b.kind == Kind::kBool ? int64_t(b.b) : b.i);
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::kUndefined: case Kind::kNone: return true;
    case Kind::kString: return a.s == b.s;
    case Kind::kList:
      if (a.is_tuple != b.is_tuple || a.list->size() != b.list->size()) return false;
      for (size_t k = 0; k < a.list->size(); ++k)
        if (!equals_at((*a.list)[k], (*b.list)[k], depth + 1)) return false;
      return true;
    case Kind::kDict:
      if (a.dict->size() != b.dict->size()) return false;
      for (const auto& [k, x] : *a.dict) {
        const Value* y = b.find(k);
        if (!y || !equals_at(x, *y, depth + 1)) return false;
      }
      return true;
    case Kind::kNamespace: return a.dict == b.dict;
    case Kind::kLoop: return a.list == b.list && a.i == b.i;
    case Kind::kMacro: return a.macro == b.macro;
    default: return false;
  }
}

static bool less_at(const Value& a, const Value& b, int depth);
bool less(const Value& a, const Value& b) { return less_at(a, b, 0); }

static bool less_at(const Value& a, const Value& b, int depth) {
  if (depth > kMaxDepth) throw RenderError{"value nested deeper than 200 levels (or containing itself)"};
  if (a.is_number() && b.is_number()) {
    if (a.kind == Kind::kFloat || b.kind == Kind::kFloat) return a.as_double() < b.as_double();
    return (a.kind == Kind::kBool ? int64_t(a.b) : a.i) < (b.kind == Kind::kBool ? int64_t(b.b) : b.i);
  }
  if (a.kind == Kind::kString && b.kind == Kind::kString) return a.s < b.s;  // UTF-8 byte order = code-point order
  if (a.kind == Kind::kList && b.kind == Kind::kList && a.is_tuple == b.is_tuple) {
    size_t n = std::min(a.list->size(), b.list->size());
    for (size_t k = 0; k < n; ++k) {
      if (!equals_at((*a.list)[k], (*b.list)[k], depth + 1)) return less_at((*a.list)[k], (*b.list)[k], depth + 1);
    }
    return a.list->size() < b.list->size();
  }
  throw RenderError{"'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'"};
}

int64_t length(const Value& v) {
  switch (v.kind) {
    case Kind::kUndefined: return 0;
    case Kind::kString: return int64_t(decode_utf8(v.s).size());
    case Kind::kList: return int64_t(v.list->size());
    case Kind::kDict: return int64_t(v.dict->size());
    default: throw RenderError{"object of type '" + type_name(v) + "' has no len()"};
  }
}

List iterate(const Value& v) {
  List out;
  switch (v.kind) {
    case Kind::kUndefined: return out;
    case Kind::kList: return *v.list;
    case Kind::kDict:
      for (const auto& kv : *v.dict) out.push_back(kv.first);
      return out;
    case Kind::kString:
      for (uint32_t cp : decode_utf8(v.s)) { std::string c; append_utf8(c, cp); out.push_back(Value::string(c)); }
      return out;
    default: throw RenderError{"'" + type_name(v) + "' object is not iterable"};
  }
}

Value from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > uint64_t(INT64_MAX)) throw RenderError{"integer " + std::to_string(u) + " is beyond 64 bits"};
      return Value::integer(int64_t(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List items;
      for (const auto& x : j) items.push_back(from_json(x));
      return Value::list_of(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict items;
      for (auto it = j.begin(); it != j.end(); ++it) items.emplace_back(Value::string(it.key()), from_json(it.value()));
      return Value::dict_of(std::move(items));
    }
    default: throw RenderError{"unsupported JSON value (binary)"};
  }
}

static std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); out += b; }
        else out += char(c);
    }
  }
  return out + "\"";
}

static std::string json_scalar(const Value& v) {
  switch (v.kind) {
    case Kind::kNone: return "null";
    case Kind::kBool: return v.b ? "true" : "false";
    case Kind::kInt: return std::to_string(v.i);
    case Kind::kFloat:
      if (std::isnan(v.f)) return "NaN";
      if (std::isinf(v.f)) return v.f > 0 ? "Infinity" : "-Infinity";
      return python_float_repr(v.f);
    case Kind::kString: return json_string(v.s);
    default: throw RenderError{"Object of type " + type_name(v) + " is not JSON serializable"};
  }
}

static void dump(const Value& v, const std::string* ind, bool sort_keys, const std::string& item_sep,
                 const std::string& key_sep, int depth, std::string& out) {
  if (depth > 200) throw RenderError{"tojson: nesting deeper than 200 levels"};
  auto newline = [&](int d) {
    if (!ind) return;
    out += '\n';
    for (int k = 0; k < d; ++k) out += *ind;
  };
  if (v.kind == Kind::kList) {
    if (v.list->empty()) { out += "[]"; return; }
    out += '[';
    for (size_t k = 0; k < v.list->size(); ++k) {
      if (k) out += item_sep;
      newline(depth + 1);
      dump((*v.list)[k], ind, sort_keys, item_sep, key_sep, depth + 1, out);
    }
    newline(depth);
    out += ']';
    return;
  }
  if (v.kind == Kind::kDict) {
    if (v.dict->empty()) { out += "{}"; return; }
    std::vector<std::pair<std::string, const Value*>> items;
    for (const auto& [k, x] : *v.dict) {
      std::string key;
      if (k.kind == Kind::kString) key = k.s;
      else if (k.kind == Kind::kFloat || k.kind == Kind::kInt || k.kind == Kind::kBool || k.kind == Kind::kNone)
        key = json_scalar(k);
      else throw RenderError{"keys must be str, int, float, bool or None, not " + type_name(k)};
      items.emplace_back(key, &x);
    }
    if (sort_keys)
      std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    out += '{';
    for (size_t k = 0; k < items.size(); ++k) {
      if (k) out += item_sep;
      newline(depth + 1);
      out += json_string(items[k].first) + key_sep;
      dump(*items[k].second, ind, sort_keys, item_sep, key_sep, depth + 1, out);
    }
    newline(depth);
    out += '}';
    return;
  }
  out += json_scalar(v);
}

std::string to_json_text(const Value& v, const std::string* indent, bool sort_keys, const std::string* item_sep,
                         const std::string* key_sep) {
  std::string is = item_sep ? *item_sep : indent ? "," : ", ";
  std::string ks = key_sep ? *key_sep : ": ";
  std::string out;
  dump(v, indent, sort_keys, is, ks, 0, out);
  return out;
}

}  // namespace jitgen::chat
