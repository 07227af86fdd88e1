#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <string>

#include "jitgen/error.h"

namespace jitgen::tokenizer {
namespace {

#define JITGEN_WS "\\t\\n\\x0B\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
constexpr const char* kPattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" JITGEN_WS "\\p{L}\\p{N}]+|[" JITGEN_WS "]+(?![^" JITGEN_WS
    "])|[" JITGEN_WS "]+";
#undef JITGEN_WS

pcre2_code* code(void* p) { return static_cast<pcre2_code*>(p); }

}  // namespace

PreTokenizer::PreTokenizer() {
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* c = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kPattern), PCRE2_ZERO_TERMINATED,
                                PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, nullptr);
  if (c == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    throw Error(ErrorCode::kInternal, std::string("GPT-2 pre-tokenizer regex failed to compile: ") +
                                          reinterpret_cast<const char*>(msg));
  }
  code_ = c;
  jit_ = pcre2_jit_compile(c, PCRE2_JIT_COMPLETE) == 0;
}

PreTokenizer::~PreTokenizer() { pcre2_code_free(code(code_)); }

PreTokenizer::Matcher::Matcher(const PreTokenizer& p)
    : p_(p), match_data_(pcre2_match_data_create_from_pattern(code(p.code_), nullptr)) {
  if (match_data_ == nullptr) throw std::bad_alloc();
}

PreTokenizer::Matcher::~Matcher() { pcre2_match_data_free(static_cast<pcre2_match_data*>(match_data_)); }

bool PreTokenizer::Matcher::next(std::string_view text, size_t pos, size_t* begin, size_t* end) {
  auto* md = static_cast<pcre2_match_data*>(match_data_);
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  // The caller guarantees valid UTF-8, so the per-call UTF check (O(n) each time) is skipped.
  int rc = p_.jit_ ? pcre2_jit_match(code(p_.code_), subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr)
                   : pcre2_match(code(p_.code_), subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) throw Error(ErrorCode::kInternal, "GPT-2 pre-tokenizer regex match failed, code " + std::to_string(rc));
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
  *begin = ov[0];
  *end = ov[1];
  JITGEN_CHECK(*end > *begin);  // the pattern never matches the empty string
  return true;
}

}  // namespace jitgen::tokenizer
