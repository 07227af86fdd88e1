#include "generate/token_chooser.h"

#include <algorithm>

#include "generate/run_report.h"
#include "generate/sampling.h"

namespace jitgen::decoding {

TokenChooser::TokenChooser(const GenerationConfig& cfg, int prompt_length, int max_length,
                           std::optional<int32_t> pad, std::optional<StopStringMatcher> stop)
    : cfg_(cfg),
      sample_(decoding_mode(cfg) == DecodingMode::kSample),
      fill_pad_(!cfg.eos_token_id.empty()),  // HF has_eos_stopping_criteria
      pad_(pad),
      chain_(cfg, prompt_length, max_length),
      stopping_(max_length, cfg.eos_token_id, cfg.max_time, std::move(stop)) {}

int32_t TokenChooser::choose(const DecodeRow& r, const float* logits, int V, int step, std::vector<float>* processed) {
  check_finite_logits(logits, V, step, r.row);
  scratch_.assign(logits, logits + V);
  chain_.apply(scratch_.data(), V, r.seq.data(), static_cast<int>(r.seq.size()), r.leading_pads);
  int32_t tok = sample_ ? sample_row(scratch_.data(), V, philox_uniform(cfg_.seed, step, r.row))
                        : argmax_row(scratch_.data(), V);
  if (fill_pad_ && !r.unfinished) tok = *pad_;
  if (processed) *processed = scratch_;
  return tok;
}

bool TokenChooser::append(DecodeRow& r, int32_t token) {
  r.seq.push_back(token);
  if (r.unfinished && stopping_.row_done(r.seq.data(), static_cast<int>(r.seq.size()))) r.unfinished = false;
  return !r.unfinished;
}

void RowsSelect::select(const float* logits, int64_t B, int64_t V, int32_t* tokens) {
  JITGEN_CHECK(B == static_cast<int64_t>(rows_.size()));
  if (scores_) scores_->emplace_back(B);
  for (int64_t r = 0; r < B; ++r) {
    std::vector<float>* processed = scores_ ? &scores_->back()[r] : nullptr;
    tokens[r] = chooser_.choose(rows_[r], logits + r * V, static_cast<int>(V), step_, processed);
    if (token_scores_) (*token_scores_)[r].push_back((*processed)[tokens[r]]);
  }
  any_unfinished_ = false;
  for (int64_t r = 0; r < B; ++r) any_unfinished_ = !chooser_.append(rows_[r], tokens[r]) || any_unfinished_;
  ++step_;
}

}  // namespace jitgen::decoding
