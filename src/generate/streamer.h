#pragma once
// Incremental detokenizer for streaming: fed token ids of one row, it returns text deltas that never split a UTF-8
// character. Policy (smallest safe deltas, unlike HF TextStreamer which waits for a space or newline): every
// complete UTF-8 character is emitted as soon as its last byte arrives; only an incomplete trailing sequence is held
// back. Invalid bytes become U+FFFD with Python's errors="replace" rule (one U+FFFD per maximal invalid subpart), so
// the concatenated deltas plus finish() equal Tokenizer::decode(all ids) byte for byte. finish() flushes a held-back
// incomplete sequence as one U+FFFD.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace jitgen {
class Tokenizer;
}

namespace jitgen::decoding {

// Incremental UTF-8 sanitizer: bytes in, valid UTF-8 out.
class Utf8Accumulator {
 public:
  // Appends the printable part of `bytes` (after any held-back prefix) to `out`.
  void push(const std::string& bytes, std::string& out);
  // Flushes a held-back incomplete sequence (as U+FFFD) into `out`.
  void finish(std::string& out);
  size_t pending_bytes() const { return pending_.size(); }

 private:
  std::string pending_;
};

class TextStreamer {
 public:
  // token_bytes[id] = raw bytes of token id. skip_ids: tokens that produce no text (skip_special_tokens).
  TextStreamer(std::vector<std::string> token_bytes, std::vector<int32_t> skip_ids = {});
  static TextStreamer from_tokenizer(const Tokenizer& tokenizer, bool skip_special_tokens = false);

  std::string put(int32_t token);  // delta for one new token (may be empty)
  std::string finish();            // the held-back remainder; the streamer can be reused afterwards

 private:
  std::shared_ptr<const std::vector<std::string>> token_bytes_;  // shared by copies: one table per vocabulary
  std::vector<int32_t> skip_ids_;
  Utf8Accumulator acc_;
};

// One streamer per row with a callback: on_text(row, delta) is called for non-empty deltas.
class BatchStreamer {
 public:
  using Callback = std::function<void(int row, const std::string& delta)>;
  BatchStreamer(int rows, const TextStreamer& prototype, Callback on_text);
  void put(int row, int32_t token);
  void finish(int row);
  void finish_all();

 private:
  std::vector<TextStreamer> rows_;
  std::vector<uint8_t> finished_;
  Callback on_text_;
};

}  // namespace jitgen::decoding
