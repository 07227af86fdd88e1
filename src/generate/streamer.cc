#include "generate/streamer.h"

namespace jitgen::decoding {

TextStreamer TextStreamer::from_tokenizer(const Tokenizer& tokenizer, bool skip_special_tokens) {
  return TextStreamer(DecodeStream(tokenizer, skip_special_tokens));
}

std::string TextStreamer::put(int32_t token) { return stream_.step(token); }

std::string TextStreamer::finish() { return stream_.finish(); }

BatchStreamer::BatchStreamer(int rows, const TextStreamer& prototype, Callback on_text)
    : rows_(rows, prototype), finished_(rows, 0), on_text_(std::move(on_text)) {}

void BatchStreamer::put(int row, int32_t token) {
  if (finished_[row]) return;
  const std::string d = rows_[row].put(token);
  if (!d.empty() && on_text_) on_text_(row, d);
}

void BatchStreamer::finish(int row) {
  if (finished_[row]) return;
  finished_[row] = 1;
  const std::string d = rows_[row].finish();
  if (!d.empty() && on_text_) on_text_(row, d);
}

void BatchStreamer::finish_all() {
  for (int r = 0; r < static_cast<int>(rows_.size()); ++r) finish(r);
}

}  // namespace jitgen::decoding
