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
      chain_(cfg, prompt_length),
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

}  // namespace jitgen::decoding
