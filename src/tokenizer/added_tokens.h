#pragma once
// Added tokens (special ones like <|endoftext|> and user-added ones) are cut out of the text before the
// pre-tokenizer runs, as both HF tokenizers do: leftmost match, longest at that position, honoring
// lstrip / rstrip (absorb the Unicode whitespace beside the token) and single_word.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jitgen::tokenizer {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;  // matched in the normalized text (after the normalizer), else in the raw text
};

class AddedTokenSplitter {
 public:
  AddedTokenSplitter() = default;
  explicit AddedTokenSplitter(const std::vector<AddedToken>& tokens);

  bool empty() const { return tokens_.empty(); }

  // Calls on_text(std::string_view segment, size_t begin) for each ordinary segment (never empty) and
  // on_token(int32_t id) for each added token, in text order. Matching is leftmost-longest and
  // non-overlapping (tokenizers' aho-corasick): a match rejected by single_word is skipped whole.
  template <typename TextFn, typename TokenFn>
  void split(std::string_view text, TextFn&& on_text, TokenFn&& on_token) const {
    if (tokens_.empty()) {
      if (!text.empty()) on_text(text, size_t{0});
      return;
    }
    size_t seg_begin = 0, i = 0;
    while (i < text.size()) {
      Match m = match_at(text, i);
      if (m.token == nullptr) {
        ++i;
        continue;
      }
      if (!m.word_ok) {
        i += m.token->content.size();
        continue;
      }
      size_t seg_end = i;
      if (m.token->lstrip) seg_end = seg_begin + rtrim_ws(text.substr(seg_begin, i - seg_begin));
      if (seg_end > seg_begin) on_text(text.substr(seg_begin, seg_end - seg_begin), seg_begin);
      on_token(m.token->id);
      i += m.token->content.size();
      if (m.token->rstrip) i += ltrim_ws(text.substr(i));
      seg_begin = i;
    }
    if (seg_begin < text.size()) on_text(text.substr(seg_begin), seg_begin);
  }

 private:
  struct Match {
    const AddedToken* token = nullptr;
    bool word_ok = true;  // single_word holds (always true for other tokens)
  };
  Match match_at(std::string_view text, size_t i) const;
  // Length of `s` without its trailing / leading Unicode White_Space.
  static size_t rtrim_ws(std::string_view s);
  static size_t ltrim_ws(std::string_view s);

  std::vector<AddedToken> tokens_;            // sorted by length, longest first
  std::vector<std::vector<uint32_t>> by_first_byte_;  // [256] -> indices into tokens_
};


}  // namespace jitgen::tokenizer
