#pragma once
// generate(): HF transformers' generate() semantics on a jitgen::Model (see docs/generation.md).
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "jitgen/generation_config.h"
#include "jitgen/model.h"
#include "jitgen/runtime.h"

namespace jitgen {

class Tokenizer;

struct GenerateInput {
  std::vector<std::vector<int32_t>> input_ids;       // [B][T], left-padded when lengths differ
  std::vector<std::vector<int32_t>> attention_mask;  // [B][T]; empty = all ones
};

struct GenerateOutput {
  // [B * num_return_sequences][T + new], prompt included, finished rows filled with the pad id (HF). Rows are
  // grouped by prompt: rows b * num_return_sequences .. + num_return_sequences - 1 belong to prompt b (beam search:
  // sorted by score, best first).
  std::vector<std::vector<int32_t>> sequences;
  std::vector<int> prompt_index;        // [rows] prompt each returned row came from
  int prompt_length = 0;                // padded prompt length T
  int new_tokens = 0;                   // generated steps (columns after the prompt)
  std::vector<float> sequences_scores;  // beam search: the final (length-penalised) scores, HF sequences_scores
  // output_scores: HF `scores`, the processed scores per step, [steps][rows][V]. Greedy / sampling: rows are the
  // returned rows. Beam search: rows are the running beams (batch * num_beams), processed log-probs.
  std::vector<std::vector<std::vector<float>>> scores;
  // output_scores: the processed score of each returned row's chosen token per step, [rows][new_tokens] (HF
  // compute_transition_scores without normalisation; beam search follows beam_indices). -inf/pad steps: 0.
  std::vector<std::vector<float>> token_scores;
  std::vector<std::vector<int32_t>> beam_indices;  // beam search: [rows][new_tokens], -1 past the end
  double prefill_ms = 0, decode_ms = 0;
  // Compile-cache report of this call (compiled mode): plans found / compiled, and compile time.
  int cache_hits = 0, cache_misses = 0;
  double compile_ms = 0;
  // Per-kernel profile of the compiled steps (GenerateOptions::profile).
  std::vector<std::pair<std::string, double>> kernel_ms;  // (kernel kind, total ms), largest first
  double kernel_total_ms = 0, step_total_ms = 0;
};

// Called after every step with the token chosen for each row (pad for finished rows). Greedy and sampling only
// (beam search has no final token per step, as in HF, which rejects streamers with beams).
using StepCallback = std::function<void(int step, const std::vector<int32_t>& tokens)>;

struct GenerateOptions {
  StepCallback on_step;
  ExecutionMode mode = ExecutionMode::kEager;
  Device device = default_device();
  // Compiled mode: prefill lengths round up to a multiple of this (HF pad_to_multiple_of), so nearby
  // prompt lengths share one plan. 1 = one plan per exact length.
  int prompt_bucket = 8;
  bool profile = false;  // time every compiled kernel (GenerateOutput::kernel_ms)
  // Needed only for stop_strings (their bytes are matched against the tokens' bytes).
  const Tokenizer* tokenizer = nullptr;
};

// `config` is used as given (see resolve_generation_config for HF defaults + overrides); it is validated first.
GenerateOutput generate(const Model& model, const GenerateInput& input, const GenerationConfig& config,
                        const GenerateOptions& options);
GenerateOutput generate(const Model& model, const GenerateInput& input, const GenerationConfig& config,
                        const StepCallback& on_step = nullptr, ExecutionMode mode = ExecutionMode::kEager);

}  // namespace jitgen
