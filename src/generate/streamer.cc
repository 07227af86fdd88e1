#include "generate/streamer.h"

#include <algorithm>

#include "jitgen/tokenizer.h"

namespace jitgen::decoding {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence at s[i..n): > 0 complete; 0 = a valid but incomplete prefix running to the
// end; < 0 = invalid, -k = the maximal invalid subpart has k bytes (Unicode "substitution of maximal subparts").
int utf8_step(const unsigned char* s, size_t i, size_t n) {
  const unsigned char c = s[i];
  if (c < 0x80) return 1;
  int need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) need = 1;
  else if (c == 0xE0) { need = 2; lo = 0xA0; }
  else if (c >= 0xE1 && c <= 0xEC) need = 2;
  else if (c == 0xED) { need = 2; hi = 0x9F; }
  else if (c >= 0xEE && c <= 0xEF) need = 2;
  else if (c == 0xF0) { need = 3; lo = 0x90; }
  else if (c >= 0xF1 && c <= 0xF3) need = 3;
  else if (c == 0xF4) { need = 3; hi = 0x8F; }
  else return -1;
  for (int k = 1; k <= need; ++k) {
    if (i + k >= n) return 0;  // incomplete so far
    const unsigned char b = s[i + k];
    const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return -k;
  }
  return need + 1;
}

}  // namespace

void Utf8Accumulator::push(const std::string& bytes, std::string& out) {
  pending_ += bytes;
  const auto* s = reinterpret_cast<const unsigned char*>(pending_.data());
  const size_t n = pending_.size();
  size_t i = 0;
  while (i < n) {
    const int r = utf8_step(s, i, n);
    if (r == 0) break;  // hold back
    if (r > 0) {
      out.append(pending_, i, r);
      i += r;
    } else {
      out += kReplacement;
      i += -r;
    }
  }
  pending_.erase(0, i);
}

void Utf8Accumulator::finish(std::string& out) {
  if (!pending_.empty()) out += kReplacement;  // a truncated sequence is one maximal subpart
  pending_.clear();
}

TextStreamer::TextStreamer(std::vector<std::string> token_bytes, std::vector<int32_t> skip_ids)
    : token_bytes_(std::make_shared<const std::vector<std::string>>(std::move(token_bytes))),
      skip_ids_(std::move(skip_ids)) {}

TextStreamer TextStreamer::from_tokenizer(const Tokenizer& tokenizer, bool skip_special_tokens) {
  std::vector<std::string> table(tokenizer.vocab_size());
  for (int i = 0; i < tokenizer.vocab_size(); ++i) table[i] = tokenizer.token_bytes(i);
  std::vector<int32_t> skip;
  if (skip_special_tokens)
    for (int i = 0; i < tokenizer.vocab_size(); ++i)
      if (tokenizer.is_special_token(i)) skip.push_back(i);
  return TextStreamer(std::move(table), std::move(skip));
}

std::string TextStreamer::put(int32_t token) {
  std::string out;
  if (std::find(skip_ids_.begin(), skip_ids_.end(), token) != skip_ids_.end()) return out;
  if (token < 0 || token >= static_cast<int32_t>(token_bytes_->size())) return out;
  acc_.push((*token_bytes_)[token], out);
  return out;
}

std::string TextStreamer::finish() {
  std::string out;
  acc_.finish(out);
  return out;
}

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

