#include "tokenizer/added_tokens.h"

#include <utf8proc.h>

#include <algorithm>

namespace jitgen::tokenizer {
namespace {

// Decodes the code point starting at s[i] (valid UTF-8 assumed); returns its length in bytes.
size_t decode_at(std::string_view s, size_t i, char32_t* cp) {
  utf8proc_int32_t c = 0;
  utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data()) + i,
                                        static_cast<utf8proc_ssize_t>(s.size() - i), &c);
  if (n <= 0) {
    *cp = 0xFFFD;
    return 1;
  }
  *cp = static_cast<char32_t>(c);
  return static_cast<size_t>(n);
}

// Start of the code point that ends just before byte i.
size_t prev_start(std::string_view s, size_t i) {
  size_t j = i - 1;
  while (j > 0 && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) --j;
  return j;
}

// Word characters for single_word: letters, marks, numbers and connector punctuation (like regex \w).
bool is_word_char(char32_t cp) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

AddedTokenSplitter::AddedTokenSplitter(const std::vector<AddedToken>& tokens) : by_first_byte_(256) {
  for (const AddedToken& t : tokens) {
    if (!t.content.empty()) tokens_.push_back(t);
  }
  std::stable_sort(tokens_.begin(), tokens_.end(),
                   [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
  for (uint32_t k = 0; k < tokens_.size(); ++k) {
    by_first_byte_[static_cast<unsigned char>(tokens_[k].content[0])].push_back(k);
  }
}

AddedTokenSplitter::Match AddedTokenSplitter::match_at(std::string_view text, size_t i) const {
  for (uint32_t k : by_first_byte_[static_cast<unsigned char>(text[i])]) {
    const AddedToken& t = tokens_[k];
    if (text.compare(i, t.content.size(), t.content) != 0) continue;
    if (t.single_word) {
      char32_t cp;
      if (i > 0 && (decode_at(text, prev_start(text, i), &cp), is_word_char(cp))) continue;
      size_t e = i + t.content.size();
      if (e < text.size() && (decode_at(text, e, &cp), is_word_char(cp))) continue;
    }
    return {&t};
  }
  return {};
}

size_t AddedTokenSplitter::rtrim_ws(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t st = prev_start(s, end);
    char32_t cp;
    decode_at(s, st, &cp);
    if (!is_white_space(cp)) break;
    end = st;
  }
  return end;
}

size_t AddedTokenSplitter::ltrim_ws(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    char32_t cp;
    size_t n = decode_at(s, i, &cp);
    if (!is_white_space(cp)) break;
    i += n;
  }
  return i;
}

}  // namespace jitgen::tokenizer
