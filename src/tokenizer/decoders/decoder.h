#pragma once
// tokenizer.json decoders (HF tokenizers/src/decoders): ByteLevel, Metaspace, ByteFallback, Fuse, Strip,
// Replace, WordPiece, BPEDecoder, Sequence. decode_chain maps the token strings of a decode call to new
// strings; the decoded text is their concatenation (Decoder::decode).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/json_read.h"

namespace jitgen::tokenizer {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // raw = true decodes one token in isolation for Tokenizer::token_bytes: byte tokens stay raw bytes (no
  // U+FFFD for a partial UTF-8 sequence), and position-dependent steps (Strip, the first-token rules of
  // Metaspace / WordPiece) are skipped, so concatenated token bytes read like the running text.
  virtual void decode_chain(std::vector<std::string>& tokens, bool raw) const = 0;
  // How many of the last `tokens` (token strings, before the chain) may decode differently once more tokens
  // follow; DecodeStream holds their text back. Incomplete UTF-8 at the end is not counted (it shows as U+FFFD).
  virtual size_t unsettled(const std::vector<std::string_view>& tokens) const { return 0; }
  // Fuse joins the tokens into one; a decoder after it that looks across characters (Replace's pattern,
  // WordPiece's cleanup) then sees across token boundaries, and nothing is settled before the end.
  virtual bool fuses() const { return false; }
  virtual bool looks_across_chars() const { return false; }
};

std::unique_ptr<Decoder> make_decoder(const Node& n);
std::unique_ptr<Decoder> make_byte_level_decoder();

// WordPiece's cleanup (" ." -> ".", " n't" -> "n't", ...), also transformers' clean_up_tokenization.
std::string cleanup_tokenization(std::string s, bool do_not);

}  // namespace jitgen::tokenizer
