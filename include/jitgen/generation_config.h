#pragma once
// GenerationConfig: HF transformers' option names, defaults and semantics. Built from the model's
// generation_config.json, then the caller's overrides (HF order), then validated.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace jitgen {

enum class EarlyStopping { kFalse, kTrue, kNever };  // HF: False (heuristic) / True / "never"

struct GenerationConfig {
  // Length
  std::optional<int> max_new_tokens;  // wins over max_length when both are set (HF)
  int max_length = 20;                // prompt + new tokens (HF default 20)
  int min_new_tokens = 0;
  int min_length = 0;
  std::optional<double> max_time;     // seconds

  // Strategy
  bool do_sample = false;
  int num_beams = 1;
  int num_return_sequences = 1;
  double length_penalty = 1.0;
  EarlyStopping early_stopping = EarlyStopping::kFalse;

  // Logits processors / warpers
  double temperature = 1.0;  // 0 => greedy
  int top_k = 50;            // 0 = off
  double top_p = 1.0;
  std::optional<double> min_p;
  double typical_p = 1.0;
  double repetition_penalty = 1.0;
  int no_repeat_ngram_size = 0;
  std::vector<std::vector<int32_t>> bad_words_ids;

  // Special tokens
  std::vector<int32_t> eos_token_id;  // any of them stops a row
  std::optional<int32_t> pad_token_id;
  std::optional<int32_t> bos_token_id;

  // Stopping on text
  std::vector<std::string> stop_strings;

  // Sampling RNG: Philox-4x32-10 keyed by the two words (DESIGN.md §4).
  uint32_t seed[2] = {0, 0};

  // Outputs
  bool output_scores = false;
  bool return_dict_in_generate = false;
};

}  // namespace jitgen
