// The built-in filters (jinja2/filters.py `do_*`, plus transformers' tojson): see builtins.h.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "chat/builtins_util.h"
#include "chat/strings.h"

namespace jitgen::chat {

using namespace detail;

namespace {

Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.kind == Kind::kString) return Value::string(pystr::lower(v.s));
  return v;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escape_non_ascii(const std::string& json) {  // json.dumps(ensure_ascii=True)
  std::string out;
  for (uint32_t cp : decode_utf8(json)) {
    char b[16];
    if (cp < 0x80) out += char(cp);
    else if (cp < 0x10000) { std::snprintf(b, sizeof b, "\\u%04x", cp); out += b; }
    else {
      uint32_t v = cp - 0x10000;
      std::snprintf(b, sizeof b, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      out += b;
    }
  }
  return out;
}

Value do_tojson(const Value& v, const Args& a) {
  bool ensure_ascii = arg_bool(a, 0, "ensure_ascii", false);
  const Value* indent = a.get(1, "indent");
  const Value* seps = a.get(2, "separators");
  bool sort_keys = arg_bool(a, 3, "sort_keys", false);
  std::string ind, item_sep, key_sep;
  const std::string* ind_p = nullptr;
  if (indent && indent->kind != Kind::kNone) {
    if (indent->kind == Kind::kString) ind = indent->s;
    else ind = std::string(size_t(std::clamp<int64_t>(need_int(*indent, "tojson indent"), 0, 64)), ' ');
    ind_p = &ind;
  }
  bool has_seps = seps && seps->kind != Kind::kNone;
  if (has_seps) {
    if (seps->kind != Kind::kList || seps->list->size() != 2) fail("tojson separators must be a pair of strings");
    item_sep = need_string((*seps->list)[0], "tojson separators");
    key_sep = need_string((*seps->list)[1], "tojson separators");
  }
  std::string out = to_json_text(v, ind_p, sort_keys, has_seps ? &item_sep : nullptr, has_seps ? &key_sep : nullptr);
  return Value::string(ensure_ascii ? escape_non_ascii(out) : out);
}

Value do_indent(const Value& v, const Args& a) {
  std::string s = soft_str(v);
  const Value* w = a.get(0, "width");
  std::string ind = w && w->kind == Kind::kString ? w->s : std::string(size_t(std::clamp<int64_t>(w ? need_int(*w, "indent width") : 4, 0, 1024)), ' ');
  bool first = arg_bool(a, 1, "first", false), blank = arg_bool(a, 2, "blank", false);
  s += "\n";
  auto lines = pystr::splitlines(s);
  std::string rv;
  if (blank) {
    for (size_t k = 0; k < lines.size(); ++k) rv += (k ? "\n" + ind : "") + lines[k];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t k = 1; k < lines.size(); ++k) rv += "\n" + (lines[k].empty() ? "" : ind + lines[k]);
  }
  if (first) rv = ind + rv;
  return Value::string(rv);
}

Value to_int(const Value& v, const Args& a) {
  const Value* dflt = a.get(0, "default");
  Value d = dflt ? *dflt : Value::integer(0);
  switch (v.kind) {
    case Kind::kInt: return v;
    case Kind::kBool: return Value::integer(v.b);
    case Kind::kFloat:
      if (!std::isfinite(v.f) || std::fabs(v.f) >= 9.2e18) return d;
      return Value::integer(int64_t(v.f));
    case Kind::kString: {
      std::string t = pystr::strip(v.s, nullptr, true, true), digits;
      for (char c : t) if (c != '_') digits += c;
      errno = 0;
      char* end = nullptr;
      long long x = std::strtoll(digits.c_str(), &end, 10);
      if (!digits.empty() && end && *end == 0 && errno == 0) return Value::integer(x);
      double f = std::strtod(t.c_str(), &end);
      if (!t.empty() && end && *end == 0 && std::isfinite(f) && std::fabs(f) < 9.2e18) return Value::integer(int64_t(f));
      return d;
    }
    default: return d;
  }
}

Value to_float(const Value& v, const Args& a) {
  const Value* dflt = a.get(0, "default");
  Value d = dflt ? *dflt : Value::number(0.0);
  if (v.is_number()) return Value::number(v.as_double());
  if (v.kind == Kind::kString) {
    std::string t = pystr::strip(v.s, nullptr, true, true);
    char* end = nullptr;
    double f = std::strtod(t.c_str(), &end);
    if (!t.empty() && end && *end == 0) return Value::number(f);
  }
  return d;
}

Value do_round(const Value& v, const Args& a) {
  check_undefined(v);
  int64_t prec = a.get(0, "precision") ? need_int(*a.get(0, "precision"), "round precision") : 0;
  std::string method = a.get(1, "method") ? need_string(*a.get(1, "method"), "round method") : "common";
  if (!v.is_number()) fail("round expects a number, got " + type_name(v));
  double x = v.as_double();
  if (method == "common") {
    if (v.kind != Kind::kFloat) return Value::integer(v.kind == Kind::kBool ? v.b : v.i);  // round(int, n) is int
    if (prec < 0 || prec > 300) fail("round precision must be in [0, 300]");
    if (!std::isfinite(x)) return Value::number(x);
    if (prec == 0) return Value::number(std::nearbyint(x));  // half to even on the exact value, as Python
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", int(prec), x);  // glibc rounds the exact binary value correctly
    return Value::number(std::strtod(buf, nullptr));
  }
  if (method != "ceil" && method != "floor") fail("method must be common, ceil or floor");
  double m = std::pow(10.0, double(prec));
  return Value::number((method == "ceil" ? std::ceil(x * m) : std::floor(x * m)) / m);
}

List filtered(const Value& seq, const Args& a, bool select, bool by_attr) {
  List out;
  size_t first = by_attr ? 1 : 0;
  std::string attr = by_attr ? need_string(a.pos.empty() ? Value() : a.pos[0], "selectattr/rejectattr attribute") : "";
  std::string test;
  Args targs;
  if (a.pos.size() > first) {
    test = need_string(a.pos[first], "select/reject test name");
    targs.pos.assign(a.pos.begin() + long(first) + 1, a.pos.end());
    targs.kw = a.kw;
    if (!has_test(test)) fail("no test named '" + test + "'");
  }
  for (const auto& item : iterate(seq)) {
    Value x = by_attr ? attribute_of(item, attr) : item;
    bool ok = test.empty() ? truthy(x) : apply_test(test, x, targs);
    if (ok == select) out.push_back(item);
  }
  return out;
}

Value minmax(const Value& v, const Args& a, bool want_max) {
  bool cs = arg_bool(a, 0, "case_sensitive", false);
  const Value* attr = a.get(1, "attribute");
  List items = iterate(v);
  if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
  size_t best = 0;
  auto key = [&](const Value& x) { return sort_key(attr ? attribute_of(x, need_string(*attr, "attribute")) : x, cs); };
  for (size_t k = 1; k < items.size(); ++k) {
    bool better = want_max ? less(key(items[best]), key(items[k])) : less(key(items[k]), key(items[best]));
    if (better) best = k;
  }
  return items[best];
}

}  // namespace

Value apply_filter(const std::string& n, const Value& v, const Args& a) {
  if (n == "default" || n == "d") {
    const Value* d = a.get(0, "default_value");
    bool boolean = arg_bool(a, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !truthy(v))) return d ? *d : Value::string("");
    return v;
  }
  if (n == "length" || n == "count") return Value::integer(length(v));
  if (n == "string") return Value::string(soft_str(v));
  if (n == "safe") return Value::string(soft_str(v));
  if (n == "escape" || n == "e") return Value::string(html_escape(soft_str(v)));
  if (n == "trim") {
    const Value* chars = a.get(0, "chars");
    std::string cs = chars && chars->kind != Kind::kNone ? need_string(*chars, "trim chars") : "";
    return Value::string(pystr::strip(soft_str(v), chars && chars->kind != Kind::kNone ? &cs : nullptr, true, true));
  }
  if (n == "upper") return Value::string(pystr::upper(soft_str(v)));
  if (n == "lower") return Value::string(pystr::lower(soft_str(v)));
  if (n == "capitalize") return Value::string(pystr::capitalize(soft_str(v)));
  if (n == "title") {
    // jinja2 do_title: split on runs of [-\s({[<], capitalise the first character of each word
    auto cps = decode_utf8(soft_str(v));
    std::string out;
    bool word_start = true;
    for (uint32_t c : cps) {
      bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_py_space(c);
      std::string ch;
      append_utf8(ch, c);
      out += sep ? ch : word_start ? pystr::upper(ch) : pystr::lower(ch);
      word_start = sep;
    }
    return Value::string(out);
  }
  if (n == "replace") {
    if (a.pos.size() < 2 && !(a.get(0, "old") && a.get(1, "new"))) fail("replace needs old and new strings");
    std::string old = soft_str(*a.get(0, "old")), repl = soft_str(*a.get(1, "new"));
    const Value* c = a.get(2, "count");
    return Value::string(pystr::replace(soft_str(v), old, repl, c && c->kind != Kind::kNone ? need_int(*c, "replace count") : -1));
  }
  if (n == "tojson") return do_tojson(v, a);
  if (n == "indent") return do_indent(v, a);
  if (n == "int") return to_int(v, a);
  if (n == "float") return to_float(v, a);
  if (n == "round") return do_round(v, a);
  if (n == "abs") {
    check_undefined(v);
    if (v.kind == Kind::kFloat) return Value::number(std::fabs(v.f));
    int64_t x = need_int(v, "abs");
    if (x == INT64_MIN) fail("integer overflow");
    return Value::integer(x < 0 ? -x : x);
  }
  if (n == "join") {
    std::string sep = a.get(0, "d") ? soft_str(*a.get(0, "d")) : "";
    const Value* attr = a.get(1, "attribute");
    std::string out;
    bool first = true;
    for (const auto& x : iterate(v)) {
      out += (first ? "" : sep) + soft_str(attr ? attribute_of(x, need_string(*attr, "join attribute")) : x);
      first = false;
      if (out.size() > max_value_size()) value_too_big("string");
    }
    return Value::string(out);
  }
  if (n == "first" || n == "last") {
    List items = iterate(v);
    if (items.empty()) return Value::undefined(n == "first" ? "No first item, sequence was empty." : "No last item, sequence was empty.");
    return n == "first" ? items.front() : items.back();
  }
  if (n == "list") return Value::list_of(iterate(v));
  if (n == "reverse") {
    if (v.kind == Kind::kString) {
      auto cps = decode_utf8(v.s);
      std::string out;
      for (auto it = cps.rbegin(); it != cps.rend(); ++it) append_utf8(out, *it);
      return Value::string(out);
    }
    List items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::list_of(std::move(items));
  }
  if (n == "items") {
    if (v.is_undefined()) return Value::list_of({});
    if (v.kind != Kind::kDict) fail("Can only get item pairs from a mapping.");
    List out;
    for (const auto& [k, x] : *v.dict) out.push_back(Value::list_of({k, x}, true));
    return Value::list_of(std::move(out));
  }
  if (n == "dictsort") {
    check_undefined(v);
    if (v.kind != Kind::kDict) fail("dictsort expects a mapping, got " + type_name(v));
    bool cs = arg_bool(a, 0, "case_sensitive", false);
    std::string by = a.get(1, "by") ? need_string(*a.get(1, "by"), "dictsort by") : "key";
    bool rev = arg_bool(a, 2, "reverse", false);
    if (by != "key" && by != "value") fail("You can only sort by either \"key\" or \"value\"");
    Dict d = *v.dict;
    std::stable_sort(d.begin(), d.end(), [&](const auto& x, const auto& y) {
      const Value& p = by == "key" ? x.first : x.second;
      const Value& q = by == "key" ? y.first : y.second;
      return rev ? less(sort_key(q, cs), sort_key(p, cs)) : less(sort_key(p, cs), sort_key(q, cs));
    });
    List out;
    for (const auto& [k, x] : d) out.push_back(Value::list_of({k, x}, true));
    return Value::list_of(std::move(out));
  }
  if (n == "sort") {
    bool rev = arg_bool(a, 0, "reverse", false), cs = arg_bool(a, 1, "case_sensitive", false);
    const Value* attr = a.get(2, "attribute");
    List items = iterate(v);
    auto key = [&](const Value& x) { return sort_key(attr ? attribute_of(x, need_string(*attr, "attribute")) : x, cs); };
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      return rev ? less(key(y), key(x)) : less(key(x), key(y));
    });
    return Value::list_of(std::move(items));
  }
  if (n == "unique") {
    bool cs = arg_bool(a, 0, "case_sensitive", false);
    const Value* attr = a.get(1, "attribute");
    List out, seen;
    for (const auto& x : iterate(v)) {
      Value k = sort_key(attr ? attribute_of(x, need_string(*attr, "attribute")) : x, cs);
      if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) {
        seen.push_back(k);
        out.push_back(x);
      }
    }
    return Value::list_of(std::move(out));
  }
  if (n == "map") {
    List out;
    const Value* attr = nullptr;
    for (const auto& [k, x] : a.kw) if (k == "attribute") attr = &x;
    if (attr) {
      const Value* dflt = nullptr;
      for (const auto& [k, x] : a.kw) if (k == "default") dflt = &x;
      for (const auto& item : iterate(v)) {
        Value r = attribute_of(item, need_string(*attr, "map attribute"));
        out.push_back(r.is_undefined() && dflt ? *dflt : r);
      }
      return Value::list_of(std::move(out));
    }
    if (a.pos.empty()) fail("map requires a filter argument");
    std::string f = need_string(a.pos[0], "map filter name");
    Args fa;
    fa.pos.assign(a.pos.begin() + 1, a.pos.end());
    fa.kw = a.kw;
    for (const auto& item : iterate(v)) out.push_back(apply_filter(f, item, fa));
    return Value::list_of(std::move(out));
  }
  if (n == "select" || n == "reject") return Value::list_of(filtered(v, a, n == "select", false));
  if (n == "selectattr" || n == "rejectattr") return Value::list_of(filtered(v, a, n == "selectattr", true));
  if (n == "max" || n == "min") return minmax(v, a, n == "max");
  if (n == "sum") {
    const Value* attr = a.get(0, "attribute");
    Value acc = a.get(1, "start") ? *a.get(1, "start") : Value::integer(0);
    for (const auto& x : iterate(v)) {
      Value y = attr ? attribute_of(x, need_string(*attr, "sum attribute")) : x;
      if (!acc.is_number() || !y.is_number()) fail("unsupported operand type(s) for +: '" + type_name(acc) + "' and '" + type_name(y) + "'");
      if (acc.kind == Kind::kFloat || y.kind == Kind::kFloat) acc = Value::number(acc.as_double() + y.as_double());
      else {
        int64_t r;
        if (__builtin_add_overflow(int64_t(acc.kind == Kind::kBool ? acc.b : acc.i),
                                   int64_t(y.kind == Kind::kBool ? y.b : y.i), &r)) fail("integer overflow");
        acc = Value::integer(r);
      }
    }
    return acc;
  }
  if (n == "center") {
    std::string s = soft_str(v);
    int64_t w = a.get(0, "width") ? need_int(*a.get(0, "width"), "center width") : 80;
    int64_t len = int64_t(decode_utf8(s).size());
    if (w <= len || w > 100000) return Value::string(s);
    int64_t marg = w - len, left = marg / 2 + (marg & w & 1);  // CPython's str.center
    return Value::string(std::string(size_t(left), ' ') + s + std::string(size_t(marg - left), ' '));
  }
  if (n == "wordcount") {  // len(re.findall(r"\w+", s))
    int64_t words = 0;
    bool in_word = false;
    for (uint32_t c : decode_utf8(soft_str(v))) {
      bool w = c == '_' || pystr::is_alpha(c) || pystr::is_numeric(c);
      if (w && !in_word) ++words;
      in_word = w;
    }
    return Value::integer(words);
  }
  static const std::set<std::string> unsupported = {
      "attr", "batch", "slice", "groupby", "format", "truncate", "wordwrap", "urlize", "striptags", "filesizeformat",
      "pprint", "xmlattr", "urlencode", "forceescape", "random"};
  if (unsupported.count(n)) fail("the '" + n + "' filter is not supported in chat templates");
  fail("no filter named '" + n + "'");
}

}  // namespace jitgen::chat
