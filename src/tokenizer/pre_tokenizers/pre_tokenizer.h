#pragma once
// tokenizer.json pre-tokenizers (HF tokenizers/src/pre_tokenizers): ByteLevel, Split, Metaspace, Digits,
// Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer, Sequence. Each splits every piece of the
// normalized text into smaller pieces (and may rewrite them: ByteLevel maps bytes to its alphabet,
// Metaspace spaces to U+2581); empty pieces are dropped, as PreTokenizedString::split does.
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/json_read.h"

namespace jitgen::tokenizer {

struct Piece {
  std::string text;
  bool at_start = false;  // starts at offset 0 of the whole input (Metaspace prepend_scheme "first")
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void split(std::vector<Piece>& pieces) const = 0;
};

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Node& n);
// The GPT-2 configuration: ByteLevel(add_prefix_space, use_regex = true).
std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space);

// HF SplitDelimiterBehavior.
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct Span {
  size_t begin, end;
  bool is_match;
};
// Appends the pieces of `p` that `behavior` keeps, given spans covering p.text in order.
void split_spans(const Piece& p, const std::vector<Span>& spans, SplitBehavior behavior, std::vector<Piece>& out);

}  // namespace jitgen::tokenizer
