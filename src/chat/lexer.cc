// The chat-template lexer: jinja2's root / block / variable / comment states (jinja2/lexer.py
// `TokenStreamer` rules) with trim_blocks and lstrip_blocks on, as transformers' ImmutableSandboxedEnvironment.
#include "chat/lexer.h"

#include <cstring>

#include "chat/ast.h"
#include "chat/value.h"
#include "jitgen/error.h"

namespace jitgen::chat {

std::pair<int, int> line_col(const std::string& source, size_t pos) {
  int line = 1, col = 1;
  for (size_t k = 0; k < pos && k < source.size(); ++k) {
    if (source[k] == '\n') { ++line; col = 1; }
    else if ((static_cast<unsigned char>(source[k]) & 0xC0) != 0x80) ++col;
  }
  return {line, col};
}

void throw_syntax(const std::string& source, size_t pos, const std::string& what) {
  auto [line, col] = line_col(source, pos);
  throw_invalid_argument("chat template line " + std::to_string(line) + ", column " + std::to_string(col) + ": " +
                         what);
}

std::string normalise_source(const std::string& source) {
  std::string out;
  out.reserve(source.size());
  for (size_t k = 0; k < source.size(); ++k) {
    if (source[k] == '\r') {
      out += '\n';
      if (k + 1 < source.size() && source[k + 1] == '\n') ++k;
    } else {
      out += source[k];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

namespace {

// Python whitespace (str.isspace) of the UTF-8 character at s[k]; its byte length in *len.
bool space_at(const std::string& s, size_t k, size_t* len) {
  unsigned char c = s[k];
  if (c < 0x80) { *len = 1; return is_py_space(c); }
  size_t n = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (k + n > s.size()) n = 1;
  auto cps = decode_utf8(s.substr(k, n));
  *len = n;
  return cps.size() == 1 && is_py_space(cps[0]);
}

size_t skip_space(const std::string& s, size_t k) {
  size_t len;
  while (k < s.size() && space_at(s, k, &len)) k += len;
  return k;
}

std::string rstrip(const std::string& t) {
  // Python str.rstrip(): drop trailing whitespace characters (multi-byte ones too).
  auto cps = decode_utf8(t);
  size_t keep = cps.size();
  while (keep > 0 && is_py_space(cps[keep - 1])) --keep;
  std::string out;
  for (size_t k = 0; k < keep; ++k) append_utf8(out, cps[k]);
  return keep == cps.size() ? t : out;
}

bool all_space(const std::string& t) {
  if (t.empty()) return false;  // `\s+` needs one character
  for (uint32_t cp : decode_utf8(t))
    if (!is_py_space(cp)) return false;
  return true;
}

const char* const kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")",
                            "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

// Decodes a string literal body as Python's "unicode-escape" codec does after jinja2's backslashreplace.
std::string unescape(const std::string& src, size_t start, size_t end) {
  std::string out;
  for (size_t k = start; k < end; ++k) {
    char c = src[k];
    if (c != '\\') { out += c; continue; }
    if (k + 1 >= end) throw_syntax(src, k, "string literal ends with a backslash");
    char e = src[++k];
    auto hex = [&](int n) {
      if (k + n >= end + 0 && k + n > end - 0) {}
      uint32_t v = 0;
      for (int d = 0; d < n; ++d) {
        if (k + 1 >= end) throw_syntax(src, k, "truncated \\x, \\u or \\U escape in a string literal");
        char h = src[++k];
        int x = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
        if (x < 0) throw_syntax(src, k, "truncated \\x, \\u or \\U escape in a string literal");
        v = v * 16 + uint32_t(x);
      }
      if (v > 0x10FFFF) throw_syntax(src, k, "illegal Unicode character in a string literal");
      append_utf8(out, v);
    };
    switch (e) {
      case '\n': break;  // line continuation
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': hex(2); break;
      case 'u': hex(4); break;
      case 'U': hex(8); break;
      case 'N': throw_syntax(src, k, "\\N{...} escapes are not supported in chat templates");
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = uint32_t(e - '0');
          for (int d = 0; d < 2 && k + 1 < end && src[k + 1] >= '0' && src[k + 1] <= '7'; ++d) v = v * 8 + uint32_t(src[++k] - '0');
          append_utf8(out, v);
        } else if (static_cast<unsigned char>(e) >= 0x80) {
          throw_syntax(src, k, "a backslash before a non-ASCII character is not supported in chat templates");
        } else {
          out += '\\';  // unknown escapes stay as written (Python keeps them, with a warning)
          out += e;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(const std::string& s) : s_(s) {}

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < s_.size()) {
      size_t tag = find_tag(pos);
      if (tag == std::string::npos) {
        out_.push_back({Token::kData, s_.substr(pos), pos});
        break;
      }
      char kind = s_[tag + 1];  // '{', '%' or '#'
      char sign = tag + 2 < s_.size() ? s_[tag + 2] : 0;
      std::string text = s_.substr(pos, tag - pos);
      if (sign == '-') {
        text = rstrip(text);
      } else if (sign != '+' && kind != '{') {
        size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if ((l_pos > 0 || line_starting) && all_space(text.substr(l_pos))) text.resize(l_pos);
      }
      if (!text.empty()) out_.push_back({Token::kData, text, pos});
      size_t p = tag + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      if (kind == '#') p = comment(tag, p);
      else p = tag_body(kind, tag, p);
      line_starting = p > 0 && s_[p - 1] == '\n';
      pos = p;
    }
    out_.push_back({Token::kEof, "", s_.size()});
    return std::move(out_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t k = s_.find('{', from); k != std::string::npos; k = s_.find('{', k + 1))
      if (k + 1 < s_.size() && (s_[k + 1] == '{' || s_[k + 1] == '%' || s_[k + 1] == '#')) return k;
    return std::string::npos;
  }

  // Closing delimiter at k: `+X}`, `-X}` + whitespace, or `X}` + one newline when trimming (blocks, comments).
  size_t close_at(size_t k, char x, bool trim) const {
    // Called at every token and at every character of a comment: compares bytes, allocates nothing.
    auto at = [&](size_t q, char a, char b) { return q + 1 < s_.size() && s_[q] == a && s_[q + 1] == b; };
    if (k >= s_.size()) return std::string::npos;
    char c = s_[k];
    if (x != '}' && c == '+' && at(k + 1, x, '}')) return k + 3;
    if (c == '-' && at(k + 1, x, '}')) return skip_space(s_, k + 3);
    if (at(k, x, '}')) {
      size_t q = k + 2;
      if (trim && q < s_.size() && s_[q] == '\n') ++q;
      return q;
    }
    return std::string::npos;
  }

  size_t comment(size_t tag, size_t p) {
    for (size_t k = p; k < s_.size(); ++k) {
      size_t end = close_at(k, '#', true);
      if (end != std::string::npos) return end;
    }
    throw_syntax(s_, tag, "missing end of comment tag");
  }

  size_t tag_body(char kind, size_t tag, size_t p) {
    char x = kind == '{' ? '}' : '%';
    out_.push_back({kind == '{' ? Token::kVarBegin : Token::kBlockBegin, "", tag});
    std::vector<char> balance;
    while (true) {
      p = skip_space(s_, p);
      if (p >= s_.size()) throw_syntax(s_, tag, kind == '{' ? "unexpected end of template, expected '}}'"
                                                            : "unexpected end of template, expected '%}'");
      if (balance.empty()) {
        size_t end = close_at(p, x, kind == '%');
        if (end != std::string::npos) {
          out_.push_back({kind == '{' ? Token::kVarEnd : Token::kBlockEnd, "", p});
          return end;
        }
      }
      char c = s_[p];
      if (c == '\'' || c == '"') {
        size_t k = p + 1;
        while (k < s_.size() && s_[k] != c) k += s_[k] == '\\' ? 2 : 1;
        if (k >= s_.size()) throw_syntax(s_, p, "unterminated string literal");
        out_.push_back({Token::kString, unescape(s_, p + 1, k), p});
        p = k + 1;
      } else if (is_digit(c)) {
        p = number(p);
      } else if (is_name_start(c)) {
        size_t k = p;
        while (k < s_.size() && (is_name_start(s_[k]) || is_digit(s_[k]))) ++k;
        out_.push_back({Token::kName, s_.substr(p, k - p), p});
        p = k;
      } else {
        const char* op = nullptr;
        for (const char* o : kOps)  // one or two bytes each, longest first
          if (c == o[0] && (o[1] == 0 || (p + 1 < s_.size() && s_[p + 1] == o[1]))) { op = o; break; }
        if (!op) throw_syntax(s_, p, std::string("unexpected character '") + c + "'");
        std::string o(op);
        if (o == "(" || o == "[" || o == "{") balance.push_back(o == "(" ? ')' : o == "[" ? ']' : '}');
        if (o == ")" || o == "]" || o == "}") {
          if (balance.empty()) throw_syntax(s_, p, "unexpected '" + o + "'");
          if (balance.back() != o[0]) throw_syntax(s_, p, "unexpected '" + o + "', expected '" + balance.back() + "'");
          balance.pop_back();
        }
        out_.push_back({Token::kOp, o, p});
        p += o.size();
      }
    }
  }

  size_t number(size_t p) {
    auto digits = [&](size_t k) {  // (\d+_)*\d+
      size_t q = k;
      while (q < s_.size() && (is_digit(s_[q]) || (s_[q] == '_' && q > k && q + 1 < s_.size() && is_digit(s_[q + 1])))) ++q;
      return q;
    };
    if (s_[p] == '0' && p + 1 < s_.size() && std::strchr("xXoObB", s_[p + 1]) && s_[p + 1] != 0) {
      throw_syntax(s_, p, "hexadecimal, octal and binary integer literals are not supported in chat templates");
    }
    size_t k = digits(p);
    bool is_float = false;
    size_t q = k;
    if (q + 1 < s_.size() && s_[q] == '.' && is_digit(s_[q + 1])) { q = digits(q + 1); is_float = true; }
    if (q < s_.size() && (s_[q] == 'e' || s_[q] == 'E')) {
      size_t r = q + 1;
      if (r < s_.size() && (s_[r] == '+' || s_[r] == '-')) ++r;
      if (r < s_.size() && is_digit(s_[r])) { q = digits(r); is_float = true; }
    }
    std::string lit;
    for (size_t i = p; i < (is_float ? q : k); ++i)
      if (s_[i] != '_') lit += s_[i];
    out_.push_back({is_float ? Token::kFloat : Token::kInt, lit, p});
    return is_float ? q : k;
  }

  const std::string& s_;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& normalised) { return Lexer(normalised).run(); }

}  // namespace jitgen::chat
