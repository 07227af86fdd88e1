#pragma once
// Byte-level BPE tokenizer, identical to Hugging Face's GPT-2 tokenizer (slow GPT2Tokenizer and fast
// tokenizers ByteLevel BPE): same pre-tokenizer regex with real Unicode classes, same merges, same
// byte-to-unicode mapping, same decoding of invalid UTF-8 (U+FFFD replacement, as errors="replace").
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jitgen {

enum class PaddingSide { kLeft, kRight };

struct BatchEncodeOptions {
  bool padding = true;                      // pad to the longest row (HF padding="longest")
  PaddingSide padding_side = PaddingSide::kLeft;
  int pad_to_multiple_of = 0;               // 0 = off
  std::optional<int> max_length;            // truncation length when set
  PaddingSide truncation_side = PaddingSide::kRight;
  std::optional<int> pad_token_id;          // defaults to the tokenizer's pad, then eos
};

struct BatchEncoding {
  std::vector<std::vector<int32_t>> input_ids;       // [B][T], all rows length T when padded
  std::vector<std::vector<int32_t>> attention_mask;  // [B][T], 1 = real token, 0 = pad
};

class Tokenizer {
 public:
  // From a folder: tokenizer.json when present, else vocab.json + merges.txt. Throws jitgen::Error.
  static Tokenizer from_dir(const std::string& dir);
  static Tokenizer from_vocab_merges(const std::string& vocab_json, const std::string& merges_txt);
  static Tokenizer from_tokenizer_json(const std::string& path);
  // The vendored GPT-2 tokenizer (sha256-checked at load).
  static Tokenizer builtin_gpt2();
  // Same checks on a copy of those files in `dir` (both sha256 must match the vendored originals).
  static Tokenizer builtin_gpt2(const std::string& dir);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Added/special tokens in the text (e.g. "<|endoftext|>") become their single id, as in HF. Invalid
  // UTF-8 in `text` is first replaced by U+FFFD per maximal subpart (what HF encodes for
  // bytes.decode("utf-8", errors="replace")); HF itself only accepts valid strings. Thread-safe.
  std::vector<int32_t> encode(std::string_view text) const;
  // Ids outside the vocabulary throw kInvalidArgument. Invalid UTF-8 byte runs become U+FFFD.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;
  BatchEncoding encode_batch(const std::vector<std::string>& texts, const BatchEncodeOptions& opt = {}) const;

  int vocab_size() const;
  std::optional<int32_t> token_to_id(std::string_view token) const;  // by vocabulary string
  std::string id_to_token(int32_t id) const;                         // byte-level string form
  // Raw bytes this token stands for (used by streaming and stop strings).
  std::string token_bytes(int32_t id) const;
  std::optional<int32_t> eos_token_id() const;  // "<|endoftext|>" when present
  std::optional<int32_t> pad_token_id() const;  // as configured (tokenizer.json / none)
  bool is_special_token(int32_t id) const;      // what decode(skip_special_tokens=true) drops

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jitgen
