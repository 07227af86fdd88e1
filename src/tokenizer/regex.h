#pragma once
// Regexes of tokenizer.json (Split pre-tokenizer, Replace normalizer / decoder, the ByteLevel GPT-2 regex),
// written for Oniguruma (what HF tokenizers uses), run on PCRE2 (UTF + UCP, JIT when available).
// Translation: `\s` / `\S` become the Unicode White_Space set (U+0009..000D, U+0020, U+0085, U+00A0, U+1680,
// U+2000..200A, U+2028, U+2029, U+202F, U+205F, U+3000), which is what Oniguruma's Unicode \s is; PCRE2's
// own UCP \s differs by version (U+0085, U+180E), so we do not rely on it. Everything else (\p{L}, \p{N},
// (?i:...), lookahead, {1,3}) has the same meaning in both.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace jitgen::tokenizer {

// The GPT-2 pre-tokenizer pattern (ByteLevel use_regex).
extern const char* const kGpt2Pattern;

class Regex {
 public:
  // Throws jitgen::Error(kInvalidFile) "<where> <pattern> does not compile (<pcre2 message> at offset N)".
  Regex(std::string_view pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls fn(size_t begin, size_t end) for each non-overlapping match, left to right. Empty matches are
  // skipped (the search moves on one code point). `text` must be valid UTF-8.
  template <typename Fn>
  void find_all(std::string_view text, Fn&& fn) const {
    Matcher m(*this);
    size_t pos = 0, b, e;
    while (pos <= text.size() && m.next(text, pos, &b, &e)) {
      if (e == b) {
        if (b >= text.size()) break;
        pos = b + utf8_step(text, b);
        continue;
      }
      fn(b, e);
      pos = e;
    }
  }

 private:
  static size_t utf8_step(std::string_view t, size_t i);
  class Matcher {
   public:
    explicit Matcher(const Regex& r);
    ~Matcher();
    bool next(std::string_view text, size_t pos, size_t* begin, size_t* end);

   private:
    const Regex& r_;
    void* match_data_;
  };
  void* code_ = nullptr;
  bool jit_ = false;
};

// Escapes `literal` so that it matches itself.
std::string regex_escape(std::string_view literal);

}  // namespace jitgen::tokenizer
