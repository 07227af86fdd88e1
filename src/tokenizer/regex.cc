#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include "jitgen/error.h"
#include "tokenizer/json_read.h"
#include "tokenizer/text.h"

namespace jitgen::tokenizer {

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

constexpr const char* kWs = "\\t\\n\\x0B\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

// Rewrites \s and \S (inside and outside character classes) to the explicit White_Space set.
std::string translate(std::string_view p) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char d = p[i + 1];
      if (d == 's') {
        out += in_class ? std::string(kWs) : "[" + std::string(kWs) + "]";
      } else if (d == 'S' && !in_class) {
        out += "[^" + std::string(kWs) + "]";
      } else {
        out += c;
        out += d;  // \S inside a class is left to PCRE2 (no family pattern uses it)
      }
      ++i;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];  // a leading ']' is literal
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

pcre2_code* code(void* p) { return static_cast<pcre2_code*>(p); }

}  // namespace

Regex::Regex(std::string_view pattern, const std::string& where) {
  std::string pat = translate(pattern);
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* c = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, nullptr);
  if (c == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    std::string shown(pattern.substr(0, 200));
    throw_invalid_file(where + " " + json_quote(shown) + " does not compile (" + reinterpret_cast<const char*>(msg) +
                       "; expected a valid regex)");
  }
  code_ = c;
  jit_ = pcre2_jit_compile(c, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() { pcre2_code_free(code(code_)); }

size_t Regex::utf8_step(std::string_view t, size_t i) { return utf8_len(static_cast<unsigned char>(t[i])); }

Regex::Matcher::Matcher(const Regex& r) : r_(r), match_data_(pcre2_match_data_create_from_pattern(code(r.code_), nullptr)) {
  if (match_data_ == nullptr) throw std::bad_alloc();
}

Regex::Matcher::~Matcher() { pcre2_match_data_free(static_cast<pcre2_match_data*>(match_data_)); }

bool Regex::Matcher::next(std::string_view text, size_t pos, size_t* begin, size_t* end) {
  auto* md = static_cast<pcre2_match_data*>(match_data_);
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  // Callers guarantee valid UTF-8, so the per-call UTF check (O(n) each time) is skipped.
  int rc = r_.jit_ ? pcre2_jit_match(code(r_.code_), subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr)
                   : pcre2_match(code(r_.code_), subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof(msg));
    throw Error(ErrorCode::kLimit, std::string("tokenizer regex match failed: ") + reinterpret_cast<const char*>(msg));
  }
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
  *begin = ov[0];
  *end = ov[1];
  return true;
}

std::string regex_escape(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}-/#").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace jitgen::tokenizer
