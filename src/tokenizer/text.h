#pragma once
// UTF-8 iteration and the Unicode predicates / transforms the pipeline components need, with the semantics
// of Rust's char methods that HF tokenizers uses (char::is_whitespace, is_alphanumeric, is_numeric,
// to_lowercase) and of unicode-normalization (NFC/NFD/NFKC/NFKD, is_combining_mark), computed with utf8proc.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace jitgen::tokenizer {

// Decodes the code point at s[i] (valid UTF-8 assumed; a bad byte reads as U+FFFD, length 1).
size_t decode_utf8(std::string_view s, size_t i, char32_t* cp);
// Byte length of the UTF-8 sequence starting with lead byte `b` (1 for continuation / invalid bytes).
inline size_t utf8_len(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? (b < 0xC0 ? 1 : 2) : b < 0xF0 ? 3 : 4; }
void append_utf8(std::string& out, char32_t cp);

// Calls fn(char32_t cp, size_t begin, size_t len) for each code point of valid UTF-8 `s`.
template <typename Fn>
void for_each_char(std::string_view s, Fn&& fn) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    size_t n = decode_utf8(s, i, &cp);
    fn(cp, i, n);
    i += n;
  }
}

bool is_white_space(char32_t cp);   // Unicode White_Space (Rust char::is_whitespace)
bool is_alphanumeric(char32_t cp);  // Rust char::is_alphanumeric: Alphabetic or Nd/Nl/No
bool is_numeric(char32_t cp);       // Rust char::is_numeric: Nd, Nl, No
bool is_punctuation(char32_t cp);   // tokenizers' is_punc: ASCII punctuation or a P* category
bool is_combining_mark(char32_t cp);  // Mn, Mc, Me
bool is_other(char32_t cp);           // Cc, Cf, Co, Cs: bert.rs's is_control (tokenizers 0.23 keeps unassigned chars)
bool is_word_char(char32_t cp);     // regex \w: letters, marks, Nd/Nl/No, Pc

enum class NormalForm { kNFC, kNFD, kNFKC, kNFKD };
std::string normalize_form(std::string_view s, NormalForm form);
// Per-char full lowercase mapping (Rust char::to_lowercase; no final-sigma context, as HF's Lowercase).
std::string to_lowercase(std::string_view s);

// Splits `s` into extended grapheme clusters; fn(std::string_view cluster).
template <typename Fn>
void for_each_grapheme(std::string_view s, Fn&& fn);

// Length of the first grapheme cluster of s (s non-empty, valid UTF-8).
size_t grapheme_len(std::string_view s);

template <typename Fn>
void for_each_grapheme(std::string_view s, Fn&& fn) {
  for (size_t i = 0; i < s.size();) {
    size_t n = grapheme_len(s.substr(i));
    fn(s.substr(i, n));
    i += n;
  }
}

}  // namespace jitgen::tokenizer
