#pragma once
// Greedy / multinomial token choice of one request, one row at a time, in HF's per-step order
// (transformers 5.24 GenerationMixin._sample): logits processors (+ warpers when sampling) -> argmax or the
// Philox draw for (seed, step, row) -> the pad id for rows already finished (when an eos is known) -> stopping
// criteria. generate()'s loop and the server's continuous batch both use it, so they pick identical tokens from
// identical logits whichever rows share a model step.
#include <cstdint>
#include <optional>
#include <vector>

#include "generate/logits_processors.h"
#include "generate/stopping.h"
#include "graph/builder.h"
#include "jitgen/generation_config.h"

namespace jitgen::decoding {

// One generated row: its full input_ids (left pads + prompt + generated) and where it stands.
struct DecodeRow {
  std::vector<int32_t> seq;
  int leading_pads = 0;  // leading zeros of the prompt mask (repetition-penalty ignore length)
  int row = 0;           // the row index of the Philox counter: b * num_return_sequences + j
  bool unfinished = true;
};

class TokenChooser {
 public:
  // prompt_length: the padded prompt length T; max_length: HF max_length (prompt + new tokens).
  TokenChooser(const GenerationConfig& cfg, int prompt_length, int max_length, std::optional<int32_t> pad,
               std::optional<StopStringMatcher> stop);

  // The row's token at `step` (0-based new-token index) from its raw logits [V]. `processed`, when given,
  // receives the processed scores. Throws kInvalidFile on a non-finite logit. Not thread-safe (scratch).
  int32_t choose(const DecodeRow& r, const float* logits, int V, int step, std::vector<float>* processed = nullptr);
  // Appends the token; returns true once the row is finished (eos, stop string, max_length, max_time).
  bool append(DecodeRow& r, int32_t token);

  bool sampling() const { return sample_; }

 private:
  GenerationConfig cfg_;
  bool sample_, fill_pad_;
  std::optional<int32_t> pad_;
  LogitsProcessorChain chain_;
  StoppingCriteria stopping_;
  std::vector<float> scratch_;
};

// The token choice of generate()'s rows as a step graph runs it (Builder::select_tokens): every row's token from
// the step's logits, appended, finished flags updated — the whole host side of a greedy / sampling step, so the
// compiled step program goes from input ids to next tokens. Allocation-free unless scores are recorded.
class RowsSelect final : public TokenSelect {
 public:
  // scores / token_scores: HF output_scores (GenerateOutput fields), or null.
  RowsSelect(TokenChooser& chooser, std::vector<DecodeRow>& rows,
             std::vector<std::vector<std::vector<float>>>* scores = nullptr,
             std::vector<std::vector<float>>* token_scores = nullptr)
      : chooser_(chooser), rows_(rows), scores_(scores), token_scores_(token_scores) {}

  void select(const float* logits, int64_t B, int64_t V, int32_t* tokens) override;
  bool any_unfinished() const { return any_unfinished_; }
  const char* kind() const { return chooser_.sampling() ? "sample" : "greedy"; }  // the compile-key part

 private:
  TokenChooser& chooser_;
  std::vector<DecodeRow>& rows_;
  std::vector<std::vector<std::vector<float>>>* scores_;
  std::vector<std::vector<float>>* token_scores_;
  int step_ = 0;
  bool any_unfinished_ = true;
};

}  // namespace jitgen::decoding
