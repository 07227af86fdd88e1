#pragma once
// GenerationConfig: HF transformers' option names, defaults and semantics. Built from the model's
// generation_config.json, then the caller's overrides (HF order), then validated.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace jitgen {

enum class EarlyStopping { kFalse, kTrue, kNever };  // HF: False (heuristic) / True / "never"

struct GenerationConfig {
  // Length
  std::optional<int> max_new_tokens;  // wins over max_length when both are set (HF)
  int max_length = 20;                // prompt + new tokens when max_length_set; see effective_max_length()
  // HF's "has_default_max_length" inverted: true once max_length came from generation_config.json or the caller.
  // While false, HF generates 20 NEW tokens (max_length = prompt + 20, clipped to n_positions).
  bool max_length_set = false;
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
  double temperature = 1.0;  // 0 => greedy (jitgen; HF rejects 0 when sampling) -- see decoding_mode()
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

enum class DecodingMode { kGreedy, kSample, kBeam, kBeamSample };

// Greedy when do_sample is false or temperature == 0; beam variants when num_beams > 1.
DecodingMode decoding_mode(const GenerationConfig& cfg);

// Applies the HF generation_config.json fields present in `j` on top of `base` (type-checked; unknown fields such as
// transformers_version are ignored; null resets a field to HF's default). `source` names the file in messages,
// e.g. "generation_config.json" or "request". Throws kInvalidFile (source ends in ".json") or kInvalidArgument.
GenerationConfig merge_generation_config(const nlohmann::json& j, const GenerationConfig& base = {},
                                         const std::string& source = "generation_config.json");
// HF precedence: library defaults <- model's generation_config.json <- caller overrides (same field names).
GenerationConfig resolve_generation_config(const nlohmann::json& model_generation_config,
                                           const nlohmann::json& overrides);

// Total length cap (prompt included) as generate() computes it: prompt_len + max_new_tokens when set; else
// max_length when set; else min(prompt_len + 20, n_positions). `prompt_len` is the padded prompt length.
int effective_max_length(const GenerationConfig& cfg, int prompt_len, int n_positions);
int effective_max_new_tokens(const GenerationConfig& cfg, int prompt_len, int n_positions);

// HF's pad for finished rows: pad_token_id, else eos_token_id[0], else none.
std::optional<int32_t> resolved_pad_token_id(const GenerationConfig& cfg);

// Throws kInvalidArgument (one line naming the option) for values HF rejects, plus jitgen's length limit
// (prompt_len + new tokens must fit n_positions, kLimit).
void validate(const GenerationConfig& cfg, int n_positions, int prompt_len);

}  // namespace jitgen
