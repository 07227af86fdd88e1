// Renders a parsed chat template (ast.h) as jinja2 does: scopes (a for loop or macro call opens one, `if`
// does not), loop controls, macros and call blocks, jinja2's default Undefined, Python operator semantics.
#include <cmath>
#include <unordered_map>

#include "chat/ast.h"
#include "chat/builtins.h"
#include "chat/chat_template.h"
#include "chat/lexer.h"
#include "jitgen/error.h"

namespace jitgen::chat {
namespace {

using Frame = std::unordered_map<std::string, Value>;
using Scopes = std::vector<std::shared_ptr<Frame>>;

// Keeps a hostile template's recursion off the C++ stack limit (steps and bytes: RenderOptions).
constexpr int kMaxCallDepth = 64;

struct Positioned {  // a RenderError that already carries its position
  size_t pos;
  std::string message;
};

class Renderer {
 public:
  Renderer(const Program& p, const RenderOptions& o) : prog_(p), opts_(o) {}
  ~Renderer() {
    for (auto& d : namespaces_) d->clear();
  }

  std::string run(const nlohmann::ordered_json& context) {
    auto root = std::make_shared<Frame>();
    if (!context.is_object()) throw_invalid_argument("chat template context must be a JSON object");
    for (auto it = context.begin(); it != context.end(); ++it) {
      try {
        (*root)[it.key()] = from_json(it.value());
      } catch (const RenderError& e) {
        throw_invalid_argument("chat template input \"" + it.key() + "\": " + e.message);
      }
    }
    scopes_.push_back(root);
    ValueLimitScope limit(opts_.max_bytes);
    std::string out;
    out_ = &out;
    try {
      exec(prog_.body);
    } catch (const Positioned& e) {
      auto [line, col] = line_col(prog_.source, e.pos);
      throw_invalid_argument("chat template line " + std::to_string(line) + ", column " + std::to_string(col) +
                             ": " + e.message);
    }
    return out;
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  [[noreturn]] static void fail(size_t pos, const std::string& m) { throw Positioned{pos, m}; }

  void step(size_t pos) {
    if (++steps_ > opts_.max_steps)
      fail(pos, "rendering exceeds the limit of " + std::to_string(opts_.max_steps) + " steps");
  }

  void emit(size_t pos, const std::string& s) {
    out_->append(s);
    if (out_->size() > opts_.max_bytes)
      fail(pos, "output exceeds the limit of " + std::to_string(opts_.max_bytes) + " bytes");
  }

  const Value* lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = (*it)->find(name);
      if (f != (*it)->end()) return &f->second;
    }
    return nullptr;
  }

  Flow exec(const Body& body) {
    for (const auto& n : body) {
      Flow f = exec(*n);
      if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
  }

  Flow exec(const Node& n) {
    try {
      return exec_node(n);
    } catch (const RenderError& e) {  // from printing or comparing outside an expression's own handler
      fail(n.pos, e.message);
    }
  }

  Flow exec_node(const Node& n) {
    step(n.pos);
    switch (n.type) {
      case Node::kData: emit(n.pos, n.text); return Flow::kNormal;
      case Node::kOutput: emit(n.pos, to_str(eval(*n.expr))); return Flow::kNormal;
      case Node::kIf:
        for (const auto& [cond, body] : n.branches)
          if (!cond || truthy(eval(*cond))) return exec(body);
        return Flow::kNormal;
      case Node::kFor: return exec_for(n);
      case Node::kSet: assign(n, eval(*n.expr)); return Flow::kNormal;
      case Node::kSetBlock: {
        std::string captured, *saved = out_;
        out_ = &captured;
        exec(n.body);
        out_ = saved;
        assign(n, Value::string(std::move(captured)));
        return Flow::kNormal;
      }
      case Node::kMacro: {
        Value m;
        m.kind = Kind::kMacro;
        m.macro = n.macro;
        m.closure = keep_scopes();
        (*scopes_.back())[n.macro->name] = m;
        return Flow::kNormal;
      }
      case Node::kCallBlock: {
        Value caller;
        caller.kind = Kind::kMacro;
        caller.macro = n.macro;
        caller.closure = keep_scopes();
        emit(n.pos, to_str(eval_call(*n.expr, &caller)));
        return Flow::kNormal;
      }
      case Node::kBreak: return Flow::kBreak;
      case Node::kContinue: return Flow::kContinue;
      case Node::kGeneration: return exec(n.body);
    }
    return Flow::kNormal;
  }

  // Macros capture the scopes they are defined in. The renderer owns those copies and macro values point at
  // them, so a frame holding a macro that holds the frame is no shared_ptr cycle (no leak).
  const Scopes* keep_scopes() {
    closures_.push_back(std::make_unique<Scopes>(scopes_));
    return closures_.back().get();
  }

  void bind(Frame& frame, const std::vector<std::string>& targets, const Value& v, size_t pos) {
    if (targets.size() == 1) { frame[targets[0]] = v; return; }
    List items;
    try { items = iterate(v); } catch (const RenderError& e) { fail(pos, "cannot unpack: " + e.message); }
    if (items.size() != targets.size())
      fail(pos, "cannot unpack " + std::to_string(items.size()) + " values into " + std::to_string(targets.size()) +
                    " names");
    for (size_t k = 0; k < targets.size(); ++k) frame[targets[k]] = items[k];
  }

  void assign(const Node& n, Value v) {
    if (n.ns_target) {
      const Value* ns = lookup(n.targets[0]);
      if (!ns || ns->kind != Kind::kNamespace)
        fail(n.pos, "cannot assign attribute on non-namespace object '" + n.targets[0] + "'");
      if (!n.targets[1].empty() && n.targets[1][0] == '_')
        fail(n.pos, "chat templates cannot store underscore-prefixed attributes on a namespace");
      for (auto& kv : *ns->dict)
        if (kv.first.kind == Kind::kString && kv.first.s == n.targets[1]) { kv.second = std::move(v); return; }
      ns->dict->emplace_back(Value::string(n.targets[1]), std::move(v));
      return;
    }
    bind(*scopes_.back(), n.targets, v, n.pos);
  }

  Flow exec_for(const Node& n) {
    Value seq = eval(*n.expr);
    List all;
    try { all = iterate(seq); } catch (const RenderError& e) { fail(n.expr->pos, e.message); }
    auto frame = std::make_shared<Frame>();
    scopes_.push_back(frame);
    List items;
    if (n.filter) {  // the inline `if` filters before loop.* is computed (jinja2 semantics)
      for (const auto& x : all) {
        step(n.pos);
        bind(*frame, n.targets, x, n.pos);
        if (truthy(eval(*n.filter))) items.push_back(x);
      }
    } else {
      items = std::move(all);
    }
    int64_t len = int64_t(items.size());
    auto shared_items = std::make_shared<List>(std::move(items));
    for (int64_t k = 0; k < len; ++k) {
      step(n.pos);
      Value loop;  // fields are computed when read (loop_field): one allocation-free value per iteration
      loop.kind = Kind::kLoop;
      loop.i = k;
      loop.list = shared_items;
      (*frame)["loop"] = std::move(loop);
      bind(*frame, n.targets, (*shared_items)[size_t(k)], n.pos);
      if (exec(n.body) == Flow::kBreak) break;
    }
    Flow f = Flow::kNormal;
    if (len == 0) {
      frame->erase("loop");
      f = exec(n.else_body);
    }
    scopes_.pop_back();
    return f == Flow::kNormal ? Flow::kNormal : f;
  }

  // ---- expressions ----
  Value eval(const Expr& e) {
    try {
      return eval_inner(e);
    } catch (const RenderError& r) {
      fail(e.pos, r.message);
    }
  }

  [[noreturn]] static void undefined_error(const Value& v) {
    throw RenderError{v.s.empty() ? "undefined value used" : v.s};
  }

  Args eval_args(const Expr& e, size_t first) {
    Args a;
    for (size_t k = first; k < e.args.size(); ++k) a.pos.push_back(eval(*e.args[k]));
    for (const auto& [key, x] : e.kwargs) a.kw.emplace_back(key, eval(*x));
    return a;
  }

  // jinja2's LoopContext attributes; obj.i is index0, obj.list the (filtered) items.
  static Value loop_field(const Value& loop, const std::string& name) {
    int64_t k = loop.i, len = int64_t(loop.list->size());
    if (name == "index") return Value::integer(k + 1);
    if (name == "index0") return Value::integer(k);
    if (name == "revindex") return Value::integer(len - k);
    if (name == "revindex0") return Value::integer(len - k - 1);
    if (name == "first") return Value::boolean(k == 0);
    if (name == "last") return Value::boolean(k == len - 1);
    if (name == "length") return Value::integer(len);
    if (name == "depth") return Value::integer(1);
    if (name == "depth0") return Value::integer(0);
    if (name == "previtem") return k > 0 ? (*loop.list)[size_t(k - 1)] : Value::undefined("there is no previous item");
    if (name == "nextitem") return k + 1 < len ? (*loop.list)[size_t(k + 1)] : Value::undefined("there is no next item");
    return Value::undefined("'LoopContext object' has no attribute '" + name + "'");
  }

  Value get_attr(const Value& obj, const std::string& name) {
    switch (obj.kind) {
      case Kind::kUndefined: undefined_error(obj);
      case Kind::kDict:
        if (is_method(obj, name)) throw RenderError{"method '" + name + "' of dict used without calling it"};
        [[fallthrough]];
      case Kind::kNamespace:
        if (const Value* v = obj.find(name)) return *v;
        break;
      case Kind::kLoop:
        return loop_field(obj, name);
      default:
        if (is_method(obj, name))
          throw RenderError{"method '" + name + "' of " + type_name(obj) + " used without calling it"};
    }
    return Value::undefined("'" + type_name(obj) + " object' has no attribute '" + name + "'");
  }

  Value get_item(const Value& obj, const Value& key) {
    if (obj.is_undefined()) undefined_error(obj);
    if (obj.kind == Kind::kLoop && key.kind == Kind::kString) return loop_field(obj, key.s);
    if (obj.kind == Kind::kDict || obj.kind == Kind::kNamespace) {
      if (const Value* v = obj.find(key)) return *v;
    } else if ((obj.kind == Kind::kList || obj.kind == Kind::kString) &&
               (key.kind == Kind::kInt || key.kind == Kind::kBool)) {
      int64_t idx = key.kind == Kind::kBool ? key.b : key.i;
      if (obj.kind == Kind::kList) {
        int64_t n = int64_t(obj.list->size());
        if (idx < 0) idx += n;
        if (idx >= 0 && idx < n) return (*obj.list)[size_t(idx)];
      } else {
        auto cps = decode_utf8(obj.s);
        int64_t n = int64_t(cps.size());
        if (idx < 0) idx += n;
        if (idx >= 0 && idx < n) { std::string c; append_utf8(c, cps[size_t(idx)]); return Value::string(c); }
      }
    } else if (key.kind == Kind::kString) {
      return get_attr(obj, key.s);
    }
    return Value::undefined("'" + type_name(obj) + " object' has no attribute '" + to_str(key) + "'");
  }

  Value slice(const Value& obj, const Value* start, const Value* stop, const Value* stepv) {
    if (obj.is_undefined()) undefined_error(obj);
    auto as_int = [](const Value* v, int64_t dflt) -> std::optional<int64_t> {
      if (!v || v->kind == Kind::kNone) return std::nullopt;
      if (v->kind == Kind::kInt) return v->i;
      if (v->kind == Kind::kBool) return int64_t(v->b);
      throw RenderError{"slice indices must be integers or None"};
      (void)dflt;
    };
    int64_t step = as_int(stepv, 1).value_or(1);
    if (step == 0) throw RenderError{"slice step cannot be zero"};
    std::vector<uint32_t> cps;
    int64_t n;
    if (obj.kind == Kind::kString) { cps = decode_utf8(obj.s); n = int64_t(cps.size()); }
    else if (obj.kind == Kind::kList) n = int64_t(obj.list->size());
    else throw RenderError{"'" + type_name(obj) + "' object is not subscriptable"};
    // PySlice_AdjustIndices
    auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
      if (!v) return dflt;
      int64_t x = *v;
      if (x < 0) { x += n; if (x < 0) x = step < 0 ? -1 : 0; }
      else if (x >= n) x = step < 0 ? n - 1 : n;
      return x;
    };
    int64_t lo = adjust(as_int(start, 0), step < 0 ? n - 1 : 0);
    int64_t hi = adjust(as_int(stop, 0), step < 0 ? -1 : n);
    List items;
    std::string s;
    for (int64_t k = lo; step > 0 ? k < hi : k > hi; k += step) {
      if (obj.kind == Kind::kString) append_utf8(s, cps[size_t(k)]);
      else items.push_back((*obj.list)[size_t(k)]);
    }
    if (obj.kind == Kind::kString) return Value::string(std::move(s));
    return Value::list_of(std::move(items), obj.is_tuple);
  }

  Value call_macro(const Value& m, const Args& a, const Value* caller, size_t pos) {
    const MacroDef& def = *m.macro;
    if (depth_ >= kMaxCallDepth) fail(pos, "macro calls nested deeper than " + std::to_string(kMaxCallDepth));
    if (a.pos.size() > def.params.size())
      throw RenderError{"macro '" + def.name + "' takes not more than " + std::to_string(def.params.size()) +
                        " argument(s)"};
    auto frame = std::make_shared<Frame>();
    for (const auto& [key, v] : a.kw) {
      bool known = false;
      for (const auto& p : def.params) known |= p.first == key;
      if (!known) throw RenderError{"macro '" + def.name + "' was invoked with an unknown argument '" + key + "'"};
    }
    Scopes saved = std::move(scopes_);
    scopes_ = *static_cast<const Scopes*>(m.closure);
    scopes_.push_back(frame);
    for (size_t k = 0; k < def.params.size(); ++k) {
      const auto& [pname, dflt] = def.params[k];
      if (const Value* v = a.get(k, pname.c_str())) (*frame)[pname] = *v;
      else if (dflt) (*frame)[pname] = eval(*dflt);
      else (*frame)[pname] = Value::undefined("parameter '" + pname + "' was not provided");
    }
    if (caller) (*frame)["caller"] = *caller;
    std::string captured, *saved_out = out_;
    out_ = &captured;
    ++depth_;
    exec(def.body);
    --depth_;
    out_ = saved_out;
    scopes_ = std::move(saved);
    return Value::string(std::move(captured));
  }

  Value eval_call(const Expr& e, const Value* caller) {
    const Expr& callee = *e.args[0];
    if (callee.op == Expr::kGetAttr) {  // a method: s.strip(), d.items(), loop.cycle(...)
      Value obj = eval(*callee.args[0]);
      if (obj.is_undefined()) undefined_error(obj);
      Args a = eval_args(e, 1);
      if (obj.kind == Kind::kLoop && callee.name == "cycle") {
        if (a.pos.empty()) throw RenderError{"no items for cycling given"};
        return a.pos[size_t(obj.i) % a.pos.size()];
      }
      if (obj.kind == Kind::kNamespace) {
        Value f = get_attr(obj, callee.name);
        if (f.kind == Kind::kMacro && f.macro) return call_macro(f, a, caller, e.pos);
        throw RenderError{"'" + callee.name + "' is not callable"};
      }
      if (obj.kind == Kind::kDict && !is_method(obj, callee.name)) {
        Value f = get_attr(obj, callee.name);
        if (f.is_undefined()) undefined_error(f);
        throw RenderError{"'" + type_name(f) + "' object is not callable"};
      }
      return call_method(obj, callee.name, a);
    }
    Value f = eval(callee);
    Args a = eval_args(e, 1);
    if (f.kind != Kind::kMacro) {
      if (f.is_undefined()) undefined_error(f);
      throw RenderError{"'" + type_name(f) + "' object is not callable"};
    }
    if (!f.macro) {
      Value v = call_global(f.s, a, opts_.now);
      if (v.kind == Kind::kNamespace) namespaces_.push_back(v.dict);
      return v;
    }
    return call_macro(f, a, caller, e.pos);
  }

  Value arith(Expr::Op op, const Value& a, const Value& b) {
    if (a.is_undefined()) undefined_error(a);
    if (b.is_undefined()) undefined_error(b);
    bool ints = (a.kind == Kind::kInt || a.kind == Kind::kBool) && (b.kind == Kind::kInt || b.kind == Kind::kBool);
    int64_t x = a.kind == Kind::kBool ? a.b : a.i, y = b.kind == Kind::kBool ? b.b : b.i, r = 0;
    if (a.is_number() && b.is_number()) {
      double p = a.as_double(), q = b.as_double();
      switch (op) {
        case Expr::kAdd: case Expr::kSub: case Expr::kMul: {
          if (!ints) return Value::number(op == Expr::kAdd ? p + q : op == Expr::kSub ? p - q : p * q);
          bool overflow = op == Expr::kAdd ? __builtin_add_overflow(x, y, &r)
                          : op == Expr::kSub ? __builtin_sub_overflow(x, y, &r) : __builtin_mul_overflow(x, y, &r);
          if (overflow) throw RenderError{"integer overflow (jitgen's template integers are 64-bit)"};
          return Value::integer(r);
        }
        case Expr::kDiv:
          if (q == 0) throw RenderError{"division by zero"};
          return Value::number(p / q);
        case Expr::kFloorDiv: case Expr::kMod: {
          if (q == 0) throw RenderError{ints ? "integer division or modulo by zero" : "float floor division by zero"};
          if (ints) {
            if (x == INT64_MIN && y == -1) throw RenderError{"integer overflow"};
            int64_t d = x / y, m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) { d -= 1; m += y; }
            return Value::integer(op == Expr::kFloorDiv ? d : m);
          }
          // Python's float_divmod (Objects/floatobject.c)
          double mod = std::fmod(p, q), div = (p - mod) / q;
          if (mod != 0) {
            if ((q < 0) != (mod < 0)) { mod += q; div -= 1.0; }
          } else {
            mod = std::copysign(0.0, q);
          }
          if (op == Expr::kMod) return Value::number(mod);
          double fl;
          if (div != 0) { fl = std::floor(div); if (div - fl > 0.5) fl += 1.0; }
          else fl = std::copysign(0.0, p / q);
          return Value::number(fl);
        }
        case Expr::kPow:
          if (ints && y >= 0) {
            int64_t acc = 1;
            for (int64_t k = 0; k < y; ++k) {
              if (__builtin_mul_overflow(acc, x, &acc)) throw RenderError{"integer overflow"};
              if (acc == 0 || acc == 1) break;
            }
            return Value::integer(acc);
          }
          if (p == 0 && q < 0) throw RenderError{"0.0 cannot be raised to a negative power"};
          return Value::number(std::pow(p, q));
        default: break;
      }
    }
    if (op == Expr::kAdd && a.kind == Kind::kString && b.kind == Kind::kString) {
      if (a.s.size() + b.s.size() > max_value_size()) value_too_big("string");
      return Value::string(a.s + b.s);
    }
    if (op == Expr::kAdd && a.kind == Kind::kList && b.kind == Kind::kList && a.is_tuple == b.is_tuple) {
      List l = *a.list;
      l.insert(l.end(), b.list->begin(), b.list->end());
      if (l.size() > max_value_size()) value_too_big("list");
      return Value::list_of(std::move(l), a.is_tuple);
    }
    if (op == Expr::kMul && (a.kind == Kind::kString || a.kind == Kind::kList) && (b.kind == Kind::kInt || b.kind == Kind::kBool))
      return repeat(a, y);
    if (op == Expr::kMul && (b.kind == Kind::kString || b.kind == Kind::kList) && (a.kind == Kind::kInt || a.kind == Kind::kBool))
      return repeat(b, x);
    if (op == Expr::kMod && a.kind == Kind::kString)
      throw RenderError{"printf-style string formatting ('...' % x) is not supported in chat templates"};
    static const char* names[] = {"", "", "", "", "", "", "", "", "", "", "", "+", "-", "*", "/", "//", "%", "**"};
    throw RenderError{std::string("unsupported operand type(s) for ") + names[op] + ": '" + type_name(a) + "' and '" +
                      type_name(b) + "'"};
  }

  static Value repeat(const Value& v, int64_t n) {
    if (n <= 0) return v.kind == Kind::kString ? Value::string("") : Value::list_of({}, v.is_tuple);
    size_t unit = v.kind == Kind::kString ? v.s.size() : v.list->size();
    if (unit != 0 && uint64_t(n) > max_value_size() / unit) value_too_big("repetition");
    if (v.kind == Kind::kString) {
      std::string s;
      for (int64_t k = 0; k < n; ++k) s += v.s;
      return Value::string(std::move(s));
    }
    List l;
    for (int64_t k = 0; k < n; ++k) l.insert(l.end(), v.list->begin(), v.list->end());
    return Value::list_of(std::move(l), v.is_tuple);
  }

  static bool contains(const Value& container, const Value& item) {
    switch (container.kind) {
      case Kind::kUndefined: return false;
      case Kind::kString:
        if (item.kind != Kind::kString)
          throw RenderError{"'in <string>' requires string as left operand, not " + type_name(item)};
        return container.s.find(item.s) != std::string::npos;
      case Kind::kList:
        for (const auto& x : *container.list) if (equals(x, item)) return true;
        return false;
      case Kind::kDict: case Kind::kNamespace: return container.find(item) != nullptr;
      default: throw RenderError{"argument of type '" + type_name(container) + "' is not iterable"};
    }
  }

  Value eval_inner(const Expr& e) {
    switch (e.op) {
      case Expr::kConst: return e.constant;
      case Expr::kName: {
        if (const Value* v = lookup(e.name)) return *v;
        if (is_global_function(e.name)) { Value f; f.kind = Kind::kMacro; f.s = e.name; return f; }
        return Value::undefined("'" + e.name + "' is undefined");
      }
      case Expr::kGetAttr: return get_attr(eval(*e.args[0]), e.name);
      case Expr::kGetItem: { Value o = eval(*e.args[0]); return get_item(o, eval(*e.args[1])); }
      case Expr::kSlice: {
        Value o = eval(*e.args[0]);
        std::optional<Value> p[3];
        for (int k = 0; k < 3; ++k) if (e.args[k + 1]) p[k] = eval(*e.args[k + 1]);
        return slice(o, p[0] ? &*p[0] : nullptr, p[1] ? &*p[1] : nullptr, p[2] ? &*p[2] : nullptr);
      }
      case Expr::kCall: return eval_call(e, nullptr);
      case Expr::kFilter: {
        Value v = eval(*e.args[0]);
        return apply_filter(e.name, v, eval_args(e, 1));
      }
      case Expr::kTest: {
        if (!has_test(e.name)) throw RenderError{"no test named '" + e.name + "'"};
        Value v = eval(*e.args[0]);
        return Value::boolean(apply_test(e.name, v, eval_args(e, 1)) != e.negated);
      }
      case Expr::kNot: return Value::boolean(!truthy(eval(*e.args[0])));
      case Expr::kNeg: case Expr::kPos: {
        Value v = eval(*e.args[0]);
        if (v.is_undefined()) undefined_error(v);
        if (!v.is_number()) throw RenderError{"bad operand type for unary " + std::string(e.op == Expr::kNeg ? "-" : "+") + ": '" + type_name(v) + "'"};
        if (e.op == Expr::kPos) return v.kind == Kind::kBool ? Value::integer(v.b) : v;
        if (v.kind == Kind::kFloat) return Value::number(-v.f);
        int64_t x = v.kind == Kind::kBool ? v.b : v.i;
        if (x == INT64_MIN) throw RenderError{"integer overflow"};
        return Value::integer(-x);
      }
      case Expr::kAnd: { Value a = eval(*e.args[0]); return truthy(a) ? eval(*e.args[1]) : a; }
      case Expr::kOr: { Value a = eval(*e.args[0]); return truthy(a) ? a : eval(*e.args[1]); }
      case Expr::kConcat: {
        Value a = eval(*e.args[0]);
        Value b = eval(*e.args[1]);
        std::string s = to_str(a) + to_str(b);
        if (s.size() > max_value_size()) value_too_big("string");
        return Value::string(std::move(s));
      }
      case Expr::kCompare: {
        Value left = eval(*e.args[0]);
        for (size_t k = 0; k < e.compare_ops.size(); ++k) {
          Value right = eval(*e.args[k + 1]);
          const std::string& op = e.compare_ops[k];
          bool r;
          if (op == "==") r = equals(left, right);
          else if (op == "!=") r = !equals(left, right);
          else if (op == "in") r = contains(right, left);
          else if (op == "notin") r = !contains(right, left);
          else {
            if (left.is_undefined()) undefined_error(left);
            if (right.is_undefined()) undefined_error(right);
            if (op == "<") r = less(left, right);
            else if (op == ">") r = less(right, left);
            else if (op == "<=") r = less(left, right) || equals(left, right);
            else r = less(right, left) || equals(left, right);
          }
          if (!r) return Value::boolean(false);
          left = std::move(right);
        }
        return Value::boolean(true);
      }
      case Expr::kCondExpr:
        if (truthy(eval(*e.args[0]))) return eval(*e.args[1]);
        if (e.args.size() > 2) return eval(*e.args[2]);
        return Value::undefined("the inline if expression on line " +
                                std::to_string(line_col(prog_.source, e.pos).first) +
                                " evaluated to false and no else section was defined.");
      case Expr::kList: case Expr::kTuple: {
        List items;
        for (const auto& a : e.args) items.push_back(eval(*a));
        return Value::list_of(std::move(items), e.op == Expr::kTuple);
      }
      case Expr::kDict: {
        Dict d;
        for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
          Value key = eval(*e.args[k]);
          if (key.kind == Kind::kList && !key.is_tuple) throw RenderError{"unhashable type: 'list'"};
          if (key.kind == Kind::kDict) throw RenderError{"unhashable type: 'dict'"};
          Value val = eval(*e.args[k + 1]);
          bool found = false;
          for (auto& kv : d) if (equals(kv.first, key)) { kv.second = val; found = true; break; }
          if (!found) d.emplace_back(std::move(key), std::move(val));
        }
        return Value::dict_of(std::move(d));
      }
      default: return arith(e.op, eval(*e.args[0]), eval(*e.args[1]));
    }
  }

  const Program& prog_;
  const RenderOptions& opts_;
  Scopes scopes_;
  std::vector<std::unique_ptr<Scopes>> closures_;
  std::vector<std::shared_ptr<Dict>> namespaces_;  // cleared at the end: `set ns.me = ns` must not leak
  std::string* out_ = nullptr;
  int64_t steps_ = 0;
  int depth_ = 0;
};

}  // namespace

ChatTemplate::ChatTemplate(const std::string& source) : program_(parse_template(source)) {}
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;
const std::string& ChatTemplate::source() const { return program_->source; }

std::string ChatTemplate::render(const nlohmann::ordered_json& context, const RenderOptions& options) const {
  return Renderer(*program_, options).run(context);
}

}  // namespace jitgen::chat
