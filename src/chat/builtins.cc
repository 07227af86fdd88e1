// Built-in filters, tests, methods and globals (see builtins.h). Each follows the jinja2 3.1 function of the
// same name (jinja2/filters.py `do_*`, jinja2/tests.py `test_*`) or the Python str / dict method.
#include "chat/builtins.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "chat/builtins_util.h"
#include "chat/strings.h"

namespace jitgen::chat {

namespace {
thread_local size_t t_max_value_size = size_t(16) << 20;
}  // namespace

size_t max_value_size() { return t_max_value_size; }

void value_too_big(const char* what) {
  throw RenderError{std::string(what) + " exceeds the limit of " + std::to_string(t_max_value_size) + " bytes"};
}

ValueLimitScope::ValueLimitScope(size_t limit) : saved_(t_max_value_size) { t_max_value_size = limit; }
ValueLimitScope::~ValueLimitScope() { t_max_value_size = saved_; }

const Value* Args::get(size_t i, const char* name) const {
  if (i < pos.size()) return &pos[i];
  for (const auto& [k, v] : kw)
    if (k == name) return &v;
  return nullptr;
}

namespace detail {

[[noreturn]] void fail(const std::string& m) { throw RenderError{m}; }

void check_undefined(const Value& v) {
  if (v.is_undefined()) fail(v.s.empty() ? "undefined value used" : v.s);
}

const std::string& need_string(const Value& v, const char* what) {
  check_undefined(v);
  if (v.kind != Kind::kString) fail(std::string(what) + " expects a string, got " + type_name(v));
  return v.s;
}

int64_t need_int(const Value& v, const char* what) {
  check_undefined(v);
  if (v.kind == Kind::kInt) return v.i;
  if (v.kind == Kind::kBool) return v.b;
  fail(std::string(what) + " expects an integer, got " + type_name(v));
}

bool arg_bool(const Args& a, size_t i, const char* name, bool dflt) {
  const Value* v = a.get(i, name);
  return v ? truthy(*v) : dflt;
}

Value attribute_of(const Value& item, const std::string& path) {
  Value cur = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    Value key = Value::string(part);
    if (!part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
      key = Value::integer(std::strtoll(part.c_str(), nullptr, 10));
    check_undefined(cur);
    const Value* found = nullptr;
    if (cur.kind == Kind::kDict || cur.kind == Kind::kNamespace) found = cur.find(key);
    else if (cur.kind == Kind::kList && key.kind == Kind::kInt && key.i >= 0 && size_t(key.i) < cur.list->size())
      found = &(*cur.list)[size_t(key.i)];
    cur = found ? *found : Value::undefined("'" + type_name(cur) + " object' has no attribute '" + part + "'");
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

}  // namespace detail

using namespace detail;

static const std::set<std::string> kTests = {
    "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number", "string", "mapping",
    "iterable", "sequence", "callable", "sameas", "in", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<",
    "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "odd", "even", "divisibleby", "lower", "upper", "escaped"};

bool has_test(const std::string& name) { return kTests.count(name) > 0; }

bool apply_test(const std::string& n, const Value& v, const Args& a) {
  auto arg = [&]() -> const Value& {
    if (a.pos.empty()) fail("test '" + n + "' needs an argument");
    return a.pos[0];
  };
  if (n == "defined") return !v.is_undefined();
  if (n == "undefined") return v.is_undefined();
  if (n == "none") return v.kind == Kind::kNone;
  if (n == "boolean") return v.kind == Kind::kBool;
  if (n == "true") return v.kind == Kind::kBool && v.b;
  if (n == "false") return v.kind == Kind::kBool && !v.b;
  if (n == "integer") return v.kind == Kind::kInt;
  if (n == "float") return v.kind == Kind::kFloat;
  if (n == "number") return v.is_number();
  if (n == "string") return v.kind == Kind::kString;
  if (n == "mapping") return v.kind == Kind::kDict;
  if (n == "iterable") return v.kind == Kind::kList || v.kind == Kind::kDict || v.kind == Kind::kString || v.is_undefined();
  if (n == "sequence") return v.kind == Kind::kList || v.kind == Kind::kDict || v.kind == Kind::kString || v.is_undefined();
  if (n == "callable") return v.kind == Kind::kMacro;
  if (n == "escaped") return false;
  if (n == "sameas") {
    const Value& o = arg();
    if (v.kind != o.kind) return false;
    if (v.kind == Kind::kNone || v.kind == Kind::kUndefined) return v.kind == Kind::kNone;
    if (v.kind == Kind::kBool) return v.b == o.b;
    // CPython shares small ints and interned constants, so `1 is sameas 1` holds there.
    if (v.kind == Kind::kInt) return v.i == o.i;
    if (v.kind == Kind::kString) return v.s == o.s;
    if (v.kind == Kind::kList) return v.list == o.list;
    if (v.dict) return v.dict == o.dict;
    return false;
  }
  if (n == "in") {
    const Value& c = arg();
    if (c.kind == Kind::kString) return v.kind == Kind::kString && c.s.find(v.s) != std::string::npos;
    if (c.kind == Kind::kList) { for (const auto& x : *c.list) if (equals(x, v)) return true; return false; }
    if (c.kind == Kind::kDict) return c.find(v) != nullptr;
    if (c.is_undefined()) return false;
    fail("argument of type '" + type_name(c) + "' is not iterable");
  }
  if (n == "eq" || n == "equalto" || n == "==") return equals(v, arg());
  if (n == "ne" || n == "!=") return !equals(v, arg());
  if (n == "lt" || n == "lessthan" || n == "<") return less(v, arg());
  if (n == "le" || n == "<=") return less(v, arg()) || equals(v, arg());
  if (n == "gt" || n == "greaterthan" || n == ">") return less(arg(), v);
  if (n == "ge" || n == ">=") return less(arg(), v) || equals(v, arg());
  if (n == "odd" || n == "even") {
    int64_t x = need_int(v, n.c_str());
    return ((x % 2) != 0) == (n == "odd");
  }
  if (n == "divisibleby") {
    int64_t d = need_int(arg(), "divisibleby");
    if (d == 0) fail("integer division or modulo by zero");
    return need_int(v, "divisibleby") % d == 0;
  }
  if (n == "lower") return soft_str(v) == pystr::lower(soft_str(v));
  if (n == "upper") return soft_str(v) == pystr::upper(soft_str(v));
  fail("no test named '" + n + "'");
}

static const std::set<std::string> kStrMethods = {
    "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "replace", "upper", "lower", "title",
    "capitalize", "find", "rfind", "count", "join", "isdigit", "isalpha", "isalnum", "isspace", "islower",
    "isupper", "splitlines"};
static const std::set<std::string> kDictMethods = {"get", "items", "keys", "values"};

bool is_method(const Value& obj, const std::string& name) {
  if (obj.kind == Kind::kString) return kStrMethods.count(name) > 0;
  if (obj.kind == Kind::kDict) return kDictMethods.count(name) > 0 || name == "copy" || name == "pop" ||
                                      name == "update" || name == "setdefault" || name == "clear";
  if (obj.kind == Kind::kList) return name == "index" || name == "count" || name == "append" || name == "pop" ||
                                      name == "extend" || name == "insert" || name == "remove" || name == "sort";
  return false;
}

Value call_method(const Value& obj, const std::string& name, const Args& a) {
  auto opt_str = [&](size_t i, const char* key, std::string& buf) -> const std::string* {
    const Value* v = a.get(i, key);
    if (!v || v->kind == Kind::kNone) return nullptr;
    buf = need_string(*v, name.c_str());
    return &buf;
  };
  if (obj.kind == Kind::kString) {
    const std::string& s = obj.s;
    std::string buf;
    if (name == "strip" || name == "lstrip" || name == "rstrip")
      return Value::string(pystr::strip(s, opt_str(0, "chars", buf), name != "rstrip", name != "lstrip"));
    if (name == "split" || name == "rsplit") {
      const Value* m = a.get(1, "maxsplit");
      List out;
      for (auto& p : pystr::split(s, opt_str(0, "sep", buf), m ? need_int(*m, "maxsplit") : -1, name == "rsplit"))
        out.push_back(Value::string(std::move(p)));
      return Value::list_of(std::move(out));
    }
    if (name == "splitlines") {
      List out;
      for (auto& p : pystr::splitlines(s)) out.push_back(Value::string(std::move(p)));
      return Value::list_of(std::move(out));
    }
    if (name == "startswith" || name == "endswith") {
      if (a.pos.empty()) fail(name + "() takes at least 1 argument (0 given)");
      List cands = a.pos[0].kind == Kind::kList && a.pos[0].is_tuple ? *a.pos[0].list : List{a.pos[0]};
      for (const auto& c : cands) {
        const std::string& p = need_string(c, name.c_str());
        bool hit = name == "startswith" ? s.compare(0, p.size(), p) == 0
                                        : s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
        if (hit) return Value::boolean(true);
      }
      return Value::boolean(false);
    }
    if (name == "replace") {
      if (a.pos.size() < 2) fail("replace() takes at least 2 arguments");
      const Value* c = a.get(2, "count");
      return Value::string(pystr::replace(s, need_string(a.pos[0], "replace"), need_string(a.pos[1], "replace"),
                                          c ? need_int(*c, "replace count") : -1));
    }
    if (name == "upper") return Value::string(pystr::upper(s));
    if (name == "lower") return Value::string(pystr::lower(s));
    if (name == "title") return Value::string(pystr::title(s));
    if (name == "capitalize") return Value::string(pystr::capitalize(s));
    if (name == "find" || name == "rfind" || name == "count") {
      if (a.pos.empty()) fail(name + "() takes at least 1 argument (0 given)");
      const std::string& sub = need_string(a.pos[0], name.c_str());
      if (name == "count") {
        if (sub.empty()) return Value::integer(int64_t(decode_utf8(s).size()) + 1);
        int64_t c = 0;
        for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++c;
        return Value::integer(c);
      }
      size_t p = name == "find" ? s.find(sub) : s.rfind(sub);
      return Value::integer(p == std::string::npos ? -1 : int64_t(decode_utf8(s.substr(0, p)).size()));
    }
    if (name == "join") {
      if (a.pos.empty()) fail("join() takes exactly one argument (0 given)");
      std::string out;
      bool first = true;
      for (const auto& x : iterate(a.pos[0])) {
        out += (first ? "" : s) + need_string(x, "join");
        first = false;
        if (out.size() > max_value_size()) value_too_big("string");
      }
      return Value::string(out);
    }
    auto cps = decode_utf8(s);
    auto all = [&](auto pred) { return !cps.empty() && std::all_of(cps.begin(), cps.end(), pred); };
    if (name == "isdigit") return Value::boolean(all([](uint32_t c) { return pystr::is_digit(c); }));
    if (name == "isalpha") return Value::boolean(all([](uint32_t c) { return pystr::is_alpha(c); }));
    if (name == "isalnum") return Value::boolean(all([](uint32_t c) { return pystr::is_alpha(c) || pystr::is_digit(c); }));
    if (name == "isspace") return Value::boolean(all([](uint32_t c) { return is_py_space(c); }));
    if (name == "islower" || name == "isupper") {
      bool any = false, ok = true;
      for (uint32_t c : cps) {
        if (pystr::is_cased_upper(c)) { any = true; ok &= name == "isupper"; }
        else if (pystr::is_cased_lower(c)) { any = true; ok &= name == "islower"; }
      }
      return Value::boolean(any && ok);
    }
  }
  if (obj.kind == Kind::kDict && kDictMethods.count(name)) {
    if (name == "get") {
      if (a.pos.empty()) fail("get expected at least 1 argument, got 0");
      const Value* v = obj.find(a.pos[0]);
      return v ? *v : a.pos.size() > 1 ? a.pos[1] : Value::none();
    }
    List out;
    for (const auto& [k, x] : *obj.dict) {
      if (name == "items") out.push_back(Value::list_of({k, x}, true));
      else out.push_back(name == "keys" ? k : x);
    }
    return Value::list_of(std::move(out));
  }
  if (obj.kind == Kind::kList && (name == "index" || name == "count")) {
    if (a.pos.empty()) fail(name + "() takes at least 1 argument");
    int64_t c = 0;
    for (size_t k = 0; k < obj.list->size(); ++k) {
      if (!equals((*obj.list)[k], a.pos[0])) continue;
      if (name == "index") return Value::integer(int64_t(k));
      ++c;
    }
    if (name == "index") fail(repr(a.pos[0]) + " is not in list");
    return Value::integer(c);
  }
  if (is_method(obj, name))
    fail("access to attribute '" + name + "' of '" + type_name(obj) + "' object is unsafe (the sandbox forbids "
         "modifying values)");
  fail("'" + type_name(obj) + " object' has no attribute '" + name + "'");
}

bool is_global_function(const std::string& name) {
  return name == "raise_exception" || name == "strftime_now" || name == "namespace" || name == "dict" ||
         name == "range" || name == "lipsum" || name == "cycler" || name == "joiner";
}

Value call_global(const std::string& name, const Args& a, const std::optional<std::tm>& now) {
  if (name == "raise_exception") {
    fail("raise_exception: " + (a.pos.empty() ? std::string() : soft_str(a.pos[0])));
  }
  if (name == "strftime_now") {
    if (a.pos.empty()) fail("strftime_now() missing 1 required positional argument: 'format'");
    const std::string& fmt = need_string(a.pos[0], "strftime_now");
    std::tm tm{};
    if (now) {
      tm = *now;
    } else {
      std::time_t t = std::time(nullptr);
      localtime_r(&t, &tm);
    }
    char buf[512];
    size_t len = fmt.empty() ? 0 : std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
    if (!fmt.empty() && len == 0) fail("strftime_now: format too long or empty result");
    return Value::string(std::string(buf, len));
  }
  if (name == "namespace" || name == "dict") {
    Dict d;
    if (!a.pos.empty()) {
      if (a.pos.size() > 1 || a.pos[0].kind != Kind::kDict) fail(name + "() takes a mapping and keyword arguments");
      d = *a.pos[0].dict;
    }
    for (const auto& [k, v] : a.kw) {
      if (name == "namespace" && !k.empty() && k[0] == '_')
        fail("chat templates cannot store underscore-prefixed attributes on a namespace");
      bool found = false;
      for (auto& kv : d) if (kv.first.kind == Kind::kString && kv.first.s == k) { kv.second = v; found = true; }
      if (!found) d.emplace_back(Value::string(k), v);
    }
    return Value::dict_of(std::move(d), name == "namespace" ? Kind::kNamespace : Kind::kDict);
  }
  if (name == "range") {
    if (a.pos.empty() || a.pos.size() > 3) fail("range expected 1 to 3 integer arguments");
    int64_t start = 0, stop, step = 1;
    if (a.pos.size() == 1) stop = need_int(a.pos[0], "range");
    else { start = need_int(a.pos[0], "range"); stop = need_int(a.pos[1], "range"); }
    if (a.pos.size() == 3) step = need_int(a.pos[2], "range");
    if (step == 0) fail("range() arg 3 must not be zero");
    // The length first, as jinja2's sandbox does before it refuses ranges over MAX_RANGE = 100000
    // (OverflowError); the render budget may be lower. Nothing is built for a range that is refused.
    const __int128 stride = step > 0 ? __int128(step) : -__int128(step);
    const __int128 span = step > 0 ? __int128(stop) - start : __int128(start) - stop;
    const __int128 len = span <= 0 ? 0 : (span + stride - 1) / stride;
    if (len > 100000) fail("range() of more than 100000 items is not supported in chat templates");
    if (len > __int128(max_value_size())) value_too_big("range()");
    List out;
    out.reserve(size_t(len));
    for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
      out.push_back(Value::integer(k));
      if ((step > 0 && k > INT64_MAX - step) || (step < 0 && k < INT64_MIN - step)) break;
    }
    return Value::list_of(std::move(out));
  }
  fail("the global function '" + name + "' is not supported in chat templates");
}

}  // namespace jitgen::chat
