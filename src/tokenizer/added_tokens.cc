#include "tokenizer/added_tokens.h"

#include "tokenizer/text.h"

#include <algorithm>

namespace jitgen::tokenizer {
namespace {

size_t decode_at(std::string_view s, size_t i, char32_t* cp) { return decode_utf8(s, i, cp); }

// Start of the code point that ends just before byte i.
size_t prev_start(std::string_view s, size_t i) {
  size_t j = i - 1;
  while (j > 0 && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) --j;
  return j;
}

}  // namespace

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
      if (i > 0 && (decode_at(text, prev_start(text, i), &cp), is_word_char(cp))) return {&t, false};
      size_t e = i + t.content.size();
      if (e < text.size() && (decode_at(text, e, &cp), is_word_char(cp))) return {&t, false};
    }
    return {&t, true};
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
