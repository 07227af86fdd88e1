#pragma once
// The GPT-2 pre-tokenizer regex, compiled once with PCRE2 (UTF + UCP, JIT when available):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// `\s` is spelled out as the Unicode White_Space property, which is what both HF references use (Rust
// tokenizers via onig, Python `regex` for the slow tokenizer): U+0009..000D, U+0020, U+0085, U+00A0,
// U+1680, U+2000..200A, U+2028, U+2029, U+202F, U+205F, U+3000. PCRE2's own UCP `\s` differs by
// version (U+180E, U+001C..001F were in or out), so we do not rely on it.
#include <cstddef>
#include <string_view>

namespace jitgen::tokenizer {

class PreTokenizer {
 public:
  PreTokenizer();
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Calls fn(std::string_view piece) for each regex match, in order. `text` must be valid UTF-8.
  template <typename Fn>
  void split(std::string_view text, Fn&& fn) const {
    size_t pos = 0;
    Matcher m(*this);
    size_t begin, end;
    while (pos < text.size() && m.next(text, pos, &begin, &end)) {
      fn(text.substr(begin, end - begin));
      pos = end;
    }
  }

 private:
  // Holds per-call match data (PCRE2 match data is not shareable across threads).
  class Matcher {
   public:
    explicit Matcher(const PreTokenizer& p);
    ~Matcher();
    bool next(std::string_view text, size_t pos, size_t* begin, size_t* end);

   private:
    const PreTokenizer& p_;
    void* match_data_;
  };
  void* code_ = nullptr;  // pcre2_code_8*
  bool jit_ = false;
};

}  // namespace jitgen::tokenizer
