#pragma once
// The parsed form of a chat template: expressions and statements as jinja2's parser builds them
// (jinja2/parser.py), restricted to what chat templates use. Every node keeps the byte offset where it
// starts so that errors name a line and column.
#include <memory>
#include <string>
#include <vector>

#include "chat/value.h"

namespace jitgen::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum Op {
    kConst, kName, kGetAttr, kGetItem, kSlice, kCall, kFilter, kTest, kNot, kNeg, kPos,
    kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow, kConcat, kAnd, kOr, kCompare, kCondExpr,
    kList, kTuple, kDict,
  };
  Op op = kConst;
  size_t pos = 0;
  Value constant;                 // kConst
  std::string name;               // kName, kGetAttr attribute, kFilter / kTest name
  bool negated = false;           // kTest: `is not`
  std::vector<ExprPtr> args;      // operands; kSlice: [object, start, stop, step] (null = omitted);
                                  // kCall: [callee, positional...]; kFilter / kTest: [subject, positional...];
                                  // kDict: [key0, value0, key1, value1, ...]; kCondExpr: [cond, then, else?]
  std::vector<std::pair<std::string, ExprPtr>> kwargs;  // kCall / kFilter / kTest keyword arguments
  std::vector<std::string> compare_ops;                 // kCompare: args[0] op[0] args[1] op[1] args[2] ...
};

struct Node;
using Body = std::vector<std::unique_ptr<Node>>;

struct MacroDef {
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> params;  // default null = required
  Body body;
};

struct Node {
  enum Type { kData, kOutput, kIf, kFor, kSet, kSetBlock, kMacro, kCallBlock, kBreak, kContinue, kGeneration };
  Type type = kData;
  size_t pos = 0;
  std::string text;                                 // kData
  ExprPtr expr;                                     // kOutput; kFor iterable; kSet value; kCallBlock call
  std::vector<std::pair<ExprPtr, Body>> branches;   // kIf: (condition, body), the else branch has no condition
  std::vector<std::string> targets;                 // kFor / kSet names (tuple unpacking); kSet `ns.attr` -> {ns, attr}
  bool ns_target = false;                           // kSet / kSetBlock assigns an attribute of a namespace
  ExprPtr filter;                                   // kFor inline `if`
  Body body, else_body;                             // kFor / kSetBlock / kCallBlock / kGeneration body; kFor else
  std::shared_ptr<MacroDef> macro;                  // kMacro; kCallBlock: the caller's parameters and body
};

// A parsed template. Throws jitgen::Error (kInvalidArgument) "chat template line L, column C: ...".
struct Program {
  std::string source;  // newline-normalised, as jinja2 sees it (offsets refer to this text)
  Body body;
};
std::unique_ptr<Program> parse_template(const std::string& source);

// Line and column (1-based) of a byte offset into Program::source.
std::pair<int, int> line_col(const std::string& source, size_t pos);

}  // namespace jitgen::chat
