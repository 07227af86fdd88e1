#pragma once
// GenerationConfig: HF transformers' option names, defaults and semantics. Built from the model's
// generation_config.json, then the caller's overrides (HF order), then validated.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
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
  // (token sequence, bias) pairs, HF's list form [[[ids...], bias], ...]; a later duplicate sequence replaces the
  // bias of the first (HF builds a dict) and keeps its position.
  std::vector<std::pair<std::vector<int32_t>, double>> sequence_bias;
  double encoder_repetition_penalty = 1.0;  // decoder-only: the prompt is HF's encoder_input_ids; 1 = off
  std::optional<int32_t> forced_bos_token_id;     // forced when the row holds exactly one token
  std::vector<int32_t> forced_eos_token_id;       // forced at length max_length - 1; empty = off
  bool remove_invalid_values = false;             // nan -> 0, +-inf -> +-FLT_MAX
  // (start, factor): EOS scores get + |score| * (factor ** (len - T - start) - 1) once len > T + start.
  std::optional<std::pair<int, double>> exponential_decay_length_penalty;
  std::vector<int32_t> suppress_tokens;           // always -inf
  std::vector<int32_t> begin_suppress_tokens;     // -inf at the first generated step (HF begin_index)
  bool renormalize_logits = false;                // log_softmax after every other processor
  // sampling-only warpers
  std::optional<double> top_h;                    // (0, 1]
  double epsilon_cutoff = 0.0;                    // enabled when in (0, 1)
  double eta_cutoff = 0.0;                        // enabled when in (0, 1)

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

  // HF GenerationConfig fields jitgen does not implement, as last set (null removes the entry). validate() refuses
  // each one whose value would make HF's output differ from jitgen's (e.g. num_beam_groups > 1 with num_beams > 1),
  // naming the field and where it came from. See kUnimplemented in generation_config.cc.
  struct Unimplemented {
    std::string source;  // "generation_config.json", "request", ...
    std::string value;   // the JSON text, for the message
    double number = 0;   // the value when it is a number (bool: 0/1), else 0
    bool truthy = false; // Python truthiness of the value
  };
  std::map<std::string, Unimplemented> unimplemented;
};

// How jitgen treats a field name of HF's GenerationConfig (transformers 5.24): read and implemented; accepted and
// ignored because it cannot change the output; refused by validate() when its value would change HF's output;
// not an HF field at all (HF keeps unknown names as attributes nothing reads: ignored too).
enum class HfFieldStatus { kImplemented, kIgnored, kRefused, kNotHf };
HfFieldStatus hf_field_status(std::string_view name);
// Why an ignored field cannot change the output / why a refused one is not supported ("" for the others).
std::string hf_field_reason(std::string_view name);

enum class DecodingMode { kGreedy, kSample, kBeam, kBeamSample };

// Greedy when do_sample is false or temperature == 0; beam variants when num_beams > 1.
DecodingMode decoding_mode(const GenerationConfig& cfg);

// Applies the HF generation_config.json fields present in `j` on top of `base` (type-checked; null resets a field to
// HF's default). HF fields that cannot change the output (transformers_version, use_cache, ...) and names that are
// not HF GenerationConfig fields at all (HF keeps those as inert attributes) are ignored; HF fields jitgen does not
// implement are recorded in `unimplemented` for validate() to refuse. `source` names the file in messages,
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
