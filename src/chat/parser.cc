// The chat-template parser: jinja2's grammar (jinja2/parser.py) for expressions and the statements chat
// templates use. Tags jinja2 has but chat templates do not need (include, extends, block, raw, filter, with,
// recursive loops, ...) are refused by name rather than mis-rendered.
#include <cerrno>
#include <cstdlib>
#include <set>

#include "chat/ast.h"
#include "chat/lexer.h"

namespace jitgen::chat {
namespace {

class Parser {
 public:
  Parser(const std::string& src, std::vector<Token> toks) : src_(src), t_(std::move(toks)) {}

  Body parse_all() {
    Body body = parse_body({});
    if (cur().type != Token::kEof) fail(cur().pos, "unexpected tag");
    return body;
  }

 private:
  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t n = 1) const { return t_[std::min(i_ + n, t_.size() - 1)]; }
  [[noreturn]] void fail(size_t pos, const std::string& what) const { throw_syntax(src_, pos, what); }
  bool is_op(const char* o) const { return cur().type == Token::kOp && cur().text == o; }
  bool is_name(const char* n) const { return cur().type == Token::kName && cur().text == n; }
  void expect_op(const char* o) {
    if (!is_op(o)) fail(cur().pos, std::string("expected '") + o + "', got " + describe(cur()));
    ++i_;
  }
  std::string expect_name() {
    if (cur().type != Token::kName) fail(cur().pos, "expected a name, got " + describe(cur()));
    return t_[i_++].text;
  }
  void expect_block_end() {
    if (cur().type != Token::kBlockEnd) fail(cur().pos, "expected end of statement block, got " + describe(cur()));
    ++i_;
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case Token::kEof: return "end of template";
      case Token::kBlockEnd: return "end of statement block";
      case Token::kVarEnd: return "end of print statement";
      case Token::kString: return "a string";
      case Token::kData: return "template data";
      default: return "'" + t.text + "'";
    }
  }

  // Statements until a `{% name %}` whose name is in `ends` (left unconsumed, positioned at the name).
  Body parse_body(const std::set<std::string>& ends) {
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == Token::kEof) {
        if (!ends.empty()) fail(t.pos, "unexpected end of template, expected '" + *ends.begin() + "'");
        return body;
      }
      if (t.type == Token::kData) {
        auto n = std::make_unique<Node>();
        n->type = Node::kData; n->pos = t.pos; n->text = t.text;
        body.push_back(std::move(n));
        ++i_;
      } else if (t.type == Token::kVarBegin) {
        auto n = std::make_unique<Node>();
        n->type = Node::kOutput; n->pos = t.pos;
        ++i_;
        n->expr = parse_tuple();
        if (cur().type != Token::kVarEnd) fail(cur().pos, "expected end of print statement, got " + describe(cur()));
        ++i_;
        body.push_back(std::move(n));
      } else if (t.type == Token::kBlockBegin) {
        if (peek().type == Token::kName && ends.count(peek().text)) { ++i_; return body; }
        ++i_;
        body.push_back(parse_statement());
      } else {
        fail(t.pos, "unexpected " + describe(t));
      }
    }
  }

  std::unique_ptr<Node> parse_statement() {
    const Token& t = cur();
    if (t.type != Token::kName) fail(t.pos, "tag name expected");
    static const std::set<std::string> unsupported = {"include", "import", "from", "extends", "block", "raw",
                                                      "filter", "with", "autoescape", "do", "trans"};
    if (unsupported.count(t.text)) fail(t.pos, "the '" + t.text + "' tag is not supported in chat templates");
    auto n = std::make_unique<Node>();
    n->pos = t.pos;
    std::string tag = t.text;
    ++i_;
    if (tag == "if") return parse_if(std::move(n));
    if (tag == "for") return parse_for(std::move(n));
    if (tag == "set") return parse_set(std::move(n));
    if (tag == "macro") return parse_macro(std::move(n));
    if (tag == "call") return parse_call_block(std::move(n));
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail(t.pos, "'" + tag + "' outside of a loop");
      n->type = tag == "break" ? Node::kBreak : Node::kContinue;
      expect_block_end();
      return n;
    }
    if (tag == "generation") {  // transformers' AssistantTracker tag: renders its body unchanged
      n->type = Node::kGeneration;
      expect_block_end();
      n->body = parse_body({"endgeneration"});
      ++i_;
      expect_block_end();
      return n;
    }
    fail(t.pos, "unknown tag '" + tag + "'");
  }

  std::unique_ptr<Node> parse_if(std::unique_ptr<Node> n) {
    n->type = Node::kIf;
    auto cond = parse_tuple(false);
    expect_block_end();
    while (true) {
      Body body = parse_body({"elif", "else", "endif"});
      n->branches.emplace_back(std::move(cond), std::move(body));
      std::string which = t_[i_++].text;
      if (which == "elif") { cond = parse_tuple(false); expect_block_end(); continue; }
      if (which == "else") {
        expect_block_end();
        n->branches.emplace_back(nullptr, parse_body({"endif"}));
        ++i_;
      }
      expect_block_end();
      return n;
    }
  }

  std::unique_ptr<Node> parse_for(std::unique_ptr<Node> n) {
    n->type = Node::kFor;
    do {
      n->targets.push_back(expect_name());
      if (!is_op(",")) break;
      ++i_;
    } while (!is_name("in"));
    if (!is_name("in")) fail(cur().pos, "expected 'in', got " + describe(cur()));
    ++i_;
    n->expr = parse_tuple(false, /*no_condexpr=*/true);
    if (is_name("if")) { ++i_; n->filter = parse_tuple(false); }
    if (is_name("recursive")) fail(cur().pos, "recursive loops are not supported in chat templates");
    expect_block_end();
    ++loop_depth_;
    n->body = parse_body({"endfor", "else"});
    --loop_depth_;
    if (t_[i_++].text == "else") {
      expect_block_end();
      n->else_body = parse_body({"endfor"});
      ++i_;
    }
    expect_block_end();
    return n;
  }

  std::unique_ptr<Node> parse_set(std::unique_ptr<Node> n) {
    n->type = Node::kSet;
    n->targets.push_back(expect_name());
    if (is_op(".")) {
      ++i_;
      n->targets.push_back(expect_name());
      n->ns_target = true;
    } else {
      while (is_op(",")) { ++i_; n->targets.push_back(expect_name()); }
    }
    if (is_op("=")) {
      ++i_;
      n->expr = parse_tuple();
      expect_block_end();
      return n;
    }
    if (is_op("|")) fail(cur().pos, "filtered block set ({% set x | filter %}) is not supported in chat templates");
    if (cur().type != Token::kBlockEnd || n->targets.size() != 1 + (n->ns_target ? 1 : 0))
      fail(cur().pos, "expected '=' or end of statement block, got " + describe(cur()));
    ++i_;
    n->type = Node::kSetBlock;
    n->body = parse_body({"endset"});
    ++i_;
    expect_block_end();
    return n;
  }

  void parse_signature(MacroDef& m) {
    expect_op("(");
    while (!is_op(")")) {
      if (!m.params.empty()) expect_op(",");
      std::string name = expect_name();
      ExprPtr def;
      if (is_op("=")) { ++i_; def = parse_expression(); }
      m.params.emplace_back(name, std::move(def));
    }
    ++i_;
  }

  std::unique_ptr<Node> parse_macro(std::unique_ptr<Node> n) {
    n->type = Node::kMacro;
    n->macro = std::make_shared<MacroDef>();
    n->macro->name = expect_name();
    parse_signature(*n->macro);
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    n->macro->body = parse_body({"endmacro"});
    loop_depth_ = saved;
    ++i_;
    expect_block_end();
    return n;
  }

  std::unique_ptr<Node> parse_call_block(std::unique_ptr<Node> n) {
    n->type = Node::kCallBlock;
    n->macro = std::make_shared<MacroDef>();
    n->macro->name = "caller";
    if (is_op("(")) parse_signature(*n->macro);
    n->expr = parse_expression();
    if (n->expr->op != Expr::kCall) fail(n->pos, "expected a call after 'call'");
    expect_block_end();
    n->macro->body = parse_body({"endcall"});
    ++i_;
    expect_block_end();
    return n;
  }

  // ---- expressions (precedence as jinja2: condexpr < or < and < not < compare < math1 < concat < math2 <
  // pow < unary, then postfix and filters / tests) ----
  ExprPtr make(Expr::Op op, size_t pos) {
    auto e = std::make_unique<Expr>();
    e->op = op; e->pos = pos;
    return e;
  }

  ExprPtr parse_tuple(bool allow_tuple = true, bool no_condexpr = false) {
    size_t pos = cur().pos;
    ExprPtr first = parse_expression(!no_condexpr);
    if (!allow_tuple || !is_op(",")) return first;
    auto t = make(Expr::kTuple, pos);
    t->args.push_back(std::move(first));
    while (is_op(",")) {
      ++i_;
      if (cur().type == Token::kVarEnd || cur().type == Token::kBlockEnd || is_op(")")) break;
      t->args.push_back(parse_expression(!no_condexpr));
    }
    return t;
  }

  ExprPtr parse_expression(bool with_condexpr = true) {
    if (++depth_ > 200) fail(cur().pos, "expression nested deeper than 200 levels");
    ExprPtr e = with_condexpr ? parse_condexpr() : parse_or();
    --depth_;
    return e;
  }

  ExprPtr parse_condexpr() {
    size_t pos = cur().pos;
    ExprPtr expr1 = parse_or();
    while (is_name("if")) {
      ++i_;
      auto c = make(Expr::kCondExpr, pos);
      ExprPtr cond = parse_or();
      c->args.push_back(std::move(cond));
      c->args.push_back(std::move(expr1));
      if (is_name("else")) { ++i_; c->args.push_back(parse_condexpr()); }
      expr1 = std::move(c);
    }
    return expr1;
  }

  ExprPtr binary(Expr::Op op, ExprPtr l, ExprPtr r, size_t pos) {
    auto e = make(op, pos);
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) { size_t p = cur().pos; ++i_; l = binary(Expr::kOr, std::move(l), parse_and(), p); }
    return l;
  }
  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) { size_t p = cur().pos; ++i_; l = binary(Expr::kAnd, std::move(l), parse_not(), p); }
    return l;
  }
  ExprPtr parse_not() {
    if (is_name("not")) {
      auto e = make(Expr::kNot, cur().pos);
      ++i_;
      if (++depth_ > 200) fail(cur().pos, "expression nested deeper than 200 levels");
      e->args.push_back(parse_not());
      --depth_;
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    size_t pos = cur().pos;
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().type == Token::kOp && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                       cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
        op = cur().text; ++i_;
      } else if (is_name("in")) {
        op = "in"; ++i_;
      } else if (is_name("not") && peek().type == Token::kName && peek().text == "in") {
        op = "notin"; i_ += 2;
      } else {
        break;
      }
      if (!cmp) { cmp = make(Expr::kCompare, pos); cmp->args.push_back(std::move(first)); }
      cmp->compare_ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }
  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      size_t p = cur().pos;
      Expr::Op op = cur().text == "+" ? Expr::kAdd : Expr::kSub;
      ++i_;
      l = binary(op, std::move(l), parse_concat(), p);
    }
    return l;
  }
  ExprPtr parse_concat() {
    ExprPtr l = parse_math2();
    while (is_op("~")) { size_t p = cur().pos; ++i_; l = binary(Expr::kConcat, std::move(l), parse_math2(), p); }
    return l;
  }
  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      size_t p = cur().pos;
      const std::string& o = cur().text;
      Expr::Op op = o == "*" ? Expr::kMul : o == "/" ? Expr::kDiv : o == "//" ? Expr::kFloorDiv : Expr::kMod;
      ++i_;
      l = binary(op, std::move(l), parse_pow(), p);
    }
    return l;
  }
  ExprPtr parse_pow() {
    ExprPtr l = parse_unary();
    while (is_op("**")) { size_t p = cur().pos; ++i_; l = binary(Expr::kPow, std::move(l), parse_unary(), p); }
    return l;
  }
  ExprPtr parse_unary(bool with_filter = true) {
    if (++depth_ > 200) fail(cur().pos, "expression nested deeper than 200 levels");
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      node = make(is_op("-") ? Expr::kNeg : Expr::kPos, cur().pos);
      ++i_;
      node->args.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    --depth_;
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    size_t pos = t.pos;
    if (t.type == Token::kName) {
      ++i_;
      if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
        auto e = make(Expr::kConst, pos);
        e->constant = Value::boolean(t.text[0] == 't' || t.text[0] == 'T');
        return e;
      }
      if (t.text == "none" || t.text == "None") {
        auto e = make(Expr::kConst, pos);
        e->constant = Value::none();
        return e;
      }
      auto e = make(Expr::kName, pos);
      e->name = t.text;
      return e;
    }
    if (t.type == Token::kString) {
      std::string s;
      while (cur().type == Token::kString) s += t_[i_++].text;  // adjacent literals concatenate
      auto e = make(Expr::kConst, pos);
      e->constant = Value::string(std::move(s));
      return e;
    }
    if (t.type == Token::kInt || t.type == Token::kFloat) {
      ++i_;
      auto e = make(Expr::kConst, pos);
      if (t.type == Token::kFloat) {
        e->constant = Value::number(std::strtod(t.text.c_str(), nullptr));
      } else {
        errno = 0;
        long long v = std::strtoll(t.text.c_str(), nullptr, 10);
        if (errno == ERANGE) fail(pos, "integer literal " + t.text + " is beyond 64 bits");
        e->constant = Value::integer(v);
      }
      return e;
    }
    if (is_op("(")) {
      ++i_;
      if (is_op(")")) { ++i_; return make(Expr::kTuple, pos); }
      ExprPtr inner = parse_tuple();
      expect_op(")");
      return inner;
    }
    if (is_op("[")) {
      ++i_;
      auto e = make(Expr::kList, pos);
      while (!is_op("]")) {
        if (!e->args.empty()) { expect_op(","); if (is_op("]")) break; }
        e->args.push_back(parse_expression());
      }
      ++i_;
      return e;
    }
    if (is_op("{")) {
      ++i_;
      auto e = make(Expr::kDict, pos);
      while (!is_op("}")) {
        if (!e->args.empty()) { expect_op(","); if (is_op("}")) break; }
        e->args.push_back(parse_expression());
        expect_op(":");
        e->args.push_back(parse_expression());
      }
      ++i_;
      return e;
    }
    fail(pos, "unexpected " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".")) {
        size_t pos = cur().pos;
        ++i_;
        auto e = make(Expr::kGetAttr, pos);
        if (cur().type == Token::kInt) {  // `x.0` is x[0]
          e->op = Expr::kGetItem;
          e->args.push_back(std::move(node));
          auto idx = make(Expr::kConst, cur().pos);
          idx->constant = Value::integer(std::strtoll(cur().text.c_str(), nullptr, 10));
          ++i_;
          e->args.push_back(std::move(idx));
        } else {
          e->name = expect_name();
          e->args.push_back(std::move(node));
        }
        node = std::move(e);
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    size_t pos = cur().pos;
    ++i_;
    // One index or one slice; `x[a, b]` (a tuple key) is not something chat data has.
    ExprPtr parts[3];
    bool is_slice = false;
    int k = 0;
    while (true) {
      if (is_op(":")) {
        is_slice = true;
        if (++k > 2) fail(cur().pos, "too many ':' in a slice");
        ++i_;
        continue;
      }
      if (is_op("]")) break;
      if (parts[k]) fail(cur().pos, "expected ']' or ':', got " + describe(cur()));
      parts[k] = parse_expression();
    }
    ++i_;
    if (!is_slice) {
      if (!parts[0]) fail(pos, "empty subscript");
      return binary(Expr::kGetItem, std::move(node), std::move(parts[0]), pos);
    }
    auto e = make(Expr::kSlice, pos);
    e->args.push_back(std::move(node));
    for (auto& p : parts) e->args.push_back(std::move(p));
    return e;
  }

  void parse_args(Expr& e) {
    expect_op("(");
    bool any = false;
    while (!is_op(")")) {
      if (any) { expect_op(","); if (is_op(")")) break; }
      any = true;
      if (is_op("*") || is_op("**")) fail(cur().pos, "*args / **kwargs in calls are not supported in chat templates");
      if (cur().type == Token::kName && peek().type == Token::kOp && peek().text == "=") {
        std::string key = t_[i_].text;
        i_ += 2;
        e.kwargs.emplace_back(key, parse_expression());
      } else {
        if (!e.kwargs.empty()) fail(cur().pos, "positional argument after a keyword argument");
        e.args.push_back(parse_expression());
      }
    }
    ++i_;
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = make(Expr::kCall, callee->pos);
    e->args.push_back(std::move(callee));
    parse_args(*e);
    return e;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        size_t pos = cur().pos;
        ++i_;
        auto e = make(Expr::kFilter, pos);
        e->name = expect_name();
        e->args.push_back(std::move(node));
        if (is_op("(")) parse_args(*e);
        node = std::move(e);
      } else if (is_name("is")) {
        size_t pos = cur().pos;
        ++i_;
        auto e = make(Expr::kTest, pos);
        if (is_name("not")) { ++i_; e->negated = true; }
        e->name = expect_name();
        e->args.push_back(std::move(node));
        if (is_op("(")) {
          parse_args(*e);
        } else if ((cur().type == Token::kName || cur().type == Token::kString || cur().type == Token::kInt ||
                    cur().type == Token::kFloat || is_op("(") || is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) fail(cur().pos, "you cannot chain multiple tests with is");
          e->args.push_back(parse_postfix(parse_primary()));
        }
        node = std::move(e);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  const std::string& src_;
  std::vector<Token> t_;
  size_t i_ = 0;
  int loop_depth_ = 0;
  int depth_ = 0;
};

}  // namespace

std::unique_ptr<Program> parse_template(const std::string& source) {
  auto p = std::make_unique<Program>();
  p->source = normalise_source(source);
  Parser parser(p->source, tokenize(p->source));
  p->body = parser.parse_all();
  return p;
}

}  // namespace jitgen::chat
