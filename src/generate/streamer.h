#pragma once
// Streaming text for the CLI (--stream, chat), the server (SSE deltas) and Python's TextStreamer: one
// jitgen::DecodeStream per row, so the concatenated deltas plus finish() are exactly Tokenizer::decode of the
// row's tokens (skip_special_tokens as asked) for every tokenizer pipeline; what is held back and why is in
// include/jitgen/tokenizer.h (DecodeStream).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "jitgen/tokenizer.h"

namespace jitgen::decoding {

class TextStreamer {
 public:
  // The tokenizer must outlive the streamer.
  static TextStreamer from_tokenizer(const Tokenizer& tokenizer, bool skip_special_tokens = false);

  std::string put(int32_t token);  // delta for one new token (may be empty)
  std::string finish();            // the held-back remainder; the streamer can be reused afterwards

 private:
  explicit TextStreamer(DecodeStream stream) : stream_(std::move(stream)) {}
  DecodeStream stream_;
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
