#pragma once
// generate(): HF transformers' generate() semantics on a jitgen::Model.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "jitgen/generation_config.h"
#include "jitgen/model.h"
#include "jitgen/runtime.h"

namespace jitgen {

struct GenerateInput {
  std::vector<std::vector<int32_t>> input_ids;       // [B][T], left-padded when lengths differ
  std::vector<std::vector<int32_t>> attention_mask;  // [B][T]; empty = all ones
};

struct GenerateOutput {
  // [B * num_return_sequences][T + new], prompt included, finished rows filled with pad_token_id (HF).
  std::vector<std::vector<int32_t>> sequences;
  int prompt_length = 0;
  int new_tokens = 0;                   // generated steps (columns after the prompt)
  std::vector<float> sequences_scores;  // beam search: the final (length-penalised) scores
  // output_scores: processed scores per step, [steps][rows][V].
  std::vector<std::vector<std::vector<float>>> scores;
  double prefill_ms = 0, decode_ms = 0;
};

// Called after every step with the token chosen for each row (pad for finished rows).
using StepCallback = std::function<void(int step, const std::vector<int32_t>& tokens)>;

// `config` is used as given (see resolve_generation_config for HF defaults + overrides).
GenerateOutput generate(const Model& model, const GenerateInput& input, const GenerationConfig& config,
                        const StepCallback& on_step = nullptr, ExecutionMode mode = ExecutionMode::kEager);

}  // namespace jitgen
