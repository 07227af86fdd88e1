#pragma once
// tokenizer.json models (HF tokenizers/src/models): BPE, Unigram, WordPiece, WordLevel. A model turns one
// pre-tokenized piece (in the vocabulary's alphabet: byte-level chars, U+2581 spaces, ...) into ids.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/json_read.h"

namespace jitgen::tokenizer {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of `word` (non-empty, valid UTF-8). Thread-safe.
  virtual void tokenize(std::string_view word, std::vector<int32_t>& out) const = 0;
};

struct BpeOptions {
  std::optional<std::string> unk_token;
  bool byte_fallback = false;  // unknown chars become <0xXX> byte tokens
  bool fuse_unk = false;       // consecutive unknowns become one unk
  bool ignore_merges = false;  // a piece that is itself in the vocabulary is one token
  std::string continuing_subword_prefix, end_of_word_suffix;
};
struct MergeSpec {
  std::string a, b;
  std::string where;  // "<file>: model.merges[i]" or "<merges.txt>: merge <line>", for messages
};

// vocab_source names the vocabulary in messages about merges that use unknown tokens.
std::unique_ptr<Model> make_bpe(const StringIdMap& vocab, const std::vector<MergeSpec>& merges, const BpeOptions& o,
                                const std::string& vocab_source);

// The model of tokenizer.json (`n` is its "model" object); fills `vocab` with every model token.
std::unique_ptr<Model> make_model(const Node& n, StringIdMap* vocab);

// A {token: id} object (model.vocab / vocab.json).
void parse_vocab(const Node& v, StringIdMap* vocab);

std::unique_ptr<Model> make_unigram(const Node& n, StringIdMap* vocab);
std::unique_ptr<Model> make_wordpiece(const Node& n, StringIdMap* vocab);
std::unique_ptr<Model> make_wordlevel(const Node& n, StringIdMap* vocab);

}  // namespace jitgen::tokenizer
