#pragma once
// Tokens of a chat template, split as jinja2's lexer splits them (jinja2/lexer.py) with the settings
// transformers uses: trim_blocks (a newline right after a block or comment tag is dropped), lstrip_blocks
// (spaces and tabs before a block or comment tag at the start of a line are dropped), `-` / `+` markers.
#include <string>
#include <vector>

namespace jitgen::chat {

struct Token {
  enum Type { kData, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kString, kInt, kFloat, kOp, kEof };
  Type type;
  std::string text;  // kData / kString: the (unescaped) text; kName, kOp: the spelling; kInt / kFloat: the literal
  size_t pos;        // byte offset in the normalised source
};

// Newlines normalised (\r\n, \r -> \n) and one trailing newline dropped, as jinja2 does; the offsets of the
// tokens refer to this text.
std::string normalise_source(const std::string& source);
// Throws jitgen::Error with line and column on a lexical error.
std::vector<Token> tokenize(const std::string& normalised);

[[noreturn]] void throw_syntax(const std::string& source, size_t pos, const std::string& what);

}  // namespace jitgen::chat
