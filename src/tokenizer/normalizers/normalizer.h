#pragma once
// tokenizer.json normalizers (HF tokenizers/src/normalizers): NFC, NFD, NFKC, NFKD, Lowercase, Strip,
// StripAccents, Prepend, Replace (string or regex), Precompiled (SentencePiece charsmap), BertNormalizer,
// Sequence. Only the normalized text matters to jitgen (no offsets), so each one maps a string to a string.
#include <memory>
#include <string>

#include "tokenizer/json_read.h"

namespace jitgen::tokenizer {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& s) const = 0;  // s is valid UTF-8 and stays so
};

// Throws jitgen::Error(kInvalidFile) naming the field for unknown types and bad options.
std::unique_ptr<Normalizer> make_normalizer(const Node& n);

// SentencePiece's precompiled charsmap normalizer (HF normalizers::Precompiled): a Darts double-array trie
// from UTF-8 prefixes to replacement strings, applied per grapheme cluster.
std::unique_ptr<Normalizer> make_precompiled(const Node& n);

}  // namespace jitgen::tokenizer
