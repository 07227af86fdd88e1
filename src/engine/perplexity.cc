#include "jitgen/perplexity.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "jitgen/error.h"

namespace jitgen {

namespace {
// Windows of the same length share one forward pass of up to this many rows ([rows, T, V] fp32 logits: 8 x 256 x
// 8000 x 4 bytes = 64 MB for the demo model).
constexpr size_t kRowsPerPass = 8;

// -log softmax(row)[target] in float64 (HF: cross_entropy(logits.double(), labels)).
double nll(const float* row, int vocab, int32_t target) {
  double mx = row[0];
  for (int v = 1; v < vocab; ++v) mx = std::max(mx, static_cast<double>(row[v]));
  double sum = 0;
  for (int v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(row[v]) - mx);
  return mx + std::log(sum) - static_cast<double>(row[target]);
}
}  // namespace

PerplexityResult perplexity(const Model& model, const std::vector<int32_t>& stream, int max_length,
                            ExecutionMode mode) {
  const ModelInfo& info = model.info();
  if (max_length < 2 || max_length > info.n_positions)
    throw_invalid_argument(fmt::format("--max-length {}: must be 2 .. {} (the model's position table)", max_length,
                                       info.n_positions));
  for (size_t i = 0; i < stream.size(); ++i)
    if (stream[i] < 0 || stream[i] >= info.vocab_size)
      throw_invalid_argument(fmt::format("token {} at position {} of the stream is outside the vocabulary (0 .. {})",
                                         stream[i], i, info.vocab_size - 1));
  // Windows [start, start + len): full ones first, then the shorter tail (if it predicts anything).
  std::vector<std::vector<int32_t>> windows;
  for (size_t s = 0; s < stream.size(); s += max_length) {
    const size_t len = std::min<size_t>(max_length, stream.size() - s);
    if (len >= 2) windows.emplace_back(stream.begin() + s, stream.begin() + s + len);
  }
  if (windows.empty())
    throw_invalid_argument(fmt::format("perplexity: the text has {} tokens; at least 2 are needed", stream.size()));
  const int V = info.vocab_size;
  double total = 0;
  PerplexityResult r;
  for (size_t w = 0; w < windows.size();) {
    std::vector<std::vector<int32_t>> rows;
    while (w < windows.size() && rows.size() < kRowsPerPass &&
           (rows.empty() || windows[w].size() == rows[0].size()))
      rows.push_back(windows[w++]);
    const auto logits = model.forward_logits(rows, {}, mode);  // [rows][T * V]
    for (size_t b = 0; b < rows.size(); ++b)
      for (size_t t = 0; t + 1 < rows[b].size(); ++t) total += nll(logits[b].data() + t * V, V, rows[b][t + 1]);
    for (const auto& row : rows) r.predicted += static_cast<int64_t>(row.size()) - 1;
    r.windows += static_cast<int64_t>(rows.size());
  }
  r.mean_nll = total / static_cast<double>(r.predicted);
  r.perplexity = std::exp(r.mean_nll);
  return r;
}

std::vector<int32_t> document_stream(const Tokenizer& tokenizer, const std::vector<std::string>& documents,
                                     int32_t bos_token_id, int32_t eos_token_id) {
  std::vector<int32_t> stream;
  for (const std::string& doc : documents) {
    if (bos_token_id >= 0) stream.push_back(bos_token_id);
    const std::vector<int32_t> ids = tokenizer.encode(doc, /*add_special_tokens=*/false);
    stream.insert(stream.end(), ids.begin(), ids.end());
    if (eos_token_id >= 0) stream.push_back(eos_token_id);
  }
  return stream;
}

}  // namespace jitgen
