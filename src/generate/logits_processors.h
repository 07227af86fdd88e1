#pragma once
// Logits processors and warpers with Hugging Face transformers semantics (matched against transformers 5.24.0,
// generation/logits_process.py and GenerationMixin._get_logits_processor).
//
// Every processor is a per-row function over `float* scores` ([V], modified in place) and the row's token history
// `ids` ([len]: the full input_ids row HF passes -- left pads, prompt and generated tokens). Filtered entries become
// -inf. Dimension legend: V = vocabulary size, len = current row length (padded prompt length T + new tokens).
//
// HF subtleties reproduced here:
//  - Repetition penalty (HF >= 4.5x) ignores the row's leading pads: generate() passes
//    prompt_ignore_length = argmax(attention_mask != 0) = number of leading zeros of the prompt mask. Pad ids that
//    sit after the first real token (or generated) ARE penalized. The penalty applies once per distinct id.
//  - No-repeat-ngram and bad-words look at the whole row, left pads included.
//  - Bad-words: single-token entries equal to an EOS id are dropped (NoBadWordsLogitsProcessor).
//  - min_length counts the padded prompt (input_ids.shape[-1]); min_new_tokens counts from the padded prompt length.
//    Both only exist when an EOS id is known. generate() also turns min_new_tokens into min_length = T +
//    min_new_tokens; both processors then mask the same steps.
//  - Processor order: sequence_bias, encoder_repetition_penalty, repetition_penalty, no_repeat_ngram, bad_words,
//    min_length, min_new_tokens, forced_bos, forced_eos, remove_invalid_values, exponential_decay_length_penalty,
//    suppress_tokens, begin_suppress_tokens; then the warpers; renormalize_logits last of all.
//  - Warpers run only when sampling, in this order: temperature (!= 1), top_h (set), top_k (!= 0), top_p (< 1),
//    min_p (set), typical_p (< 1), epsilon_cutoff and eta_cutoff (in (0, 1)). With num_beams > 1,
//    min_tokens_to_keep = number of EOS ids + 1 (2 if none), else 1 (top_h has none).
//  - top_k keeps every entry >= the k-th largest value (ties at the boundary are kept); k = max(top_k,
//    min_tokens_to_keep), clipped to V.
//  - top_p: ascending sort, fp32 softmax, cumulative sum (torch CPU accumulates in double), remove entries whose
//    cumsum <= 1 - top_p, always keep the last min_tokens_to_keep of the ascending order.
//  - Beam search applies the chain to log_softmax(logits), not to raw logits (caller's job).
// Ties in sorts are broken by token id (torch.sort is not stable; HF's output is then unspecified anyway).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "jitgen/generation_config.h"

namespace jitgen::decoding {

// Reusable scratch for the processors that sort or mark the vocabulary; sized on first use, no allocation after.
struct ProcessorScratch {
  std::vector<int32_t> order;    // [V]
  std::vector<float> values;     // [V]
  std::vector<double> cumsum;    // [V]
  std::vector<uint8_t> mark;     // [V], all zero between calls
  std::vector<float> normalized; // [V]
  void reserve(int V);
};

// ---- processors (always applied, greedy / sampling / beam) --------------------------------------------------------
// RepetitionPenaltyLogitsProcessor: ids[ignore_prefix:] are "seen"; score < 0 ? score * penalty : score / penalty.
void repetition_penalty(float* scores, int V, const int32_t* ids, int len, int ignore_prefix, float penalty,
                        ProcessorScratch& scratch);
// NoRepeatNGramLogitsProcessor: bans every token that would complete an n-gram already present in ids.
void no_repeat_ngram(float* scores, int V, const int32_t* ids, int len, int ngram_size);
// NoBadWordsLogitsProcessor: `sequences` already filtered (see make_bad_words); a sequence bans its last token when
// its prefix equals the end of ids.
void bad_words(float* scores, int V, const int32_t* ids, int len, const std::vector<std::vector<int32_t>>& sequences);
// MinLengthLogitsProcessor: eos ids -> -inf while len < min_length.
void min_length(float* scores, int V, int len, int min_length, const std::vector<int32_t>& eos);
// MinNewTokensLengthLogitsProcessor: eos ids -> -inf while len - prompt_len < min_new_tokens.
void min_new_tokens(float* scores, int V, int len, int prompt_len, int min_new_tokens, const std::vector<int32_t>& eos);
// SequenceBiasLogitsProcessor: a [V] fp32 bias (single-token biases, then multi-token ones whose prefix ends ids,
// grouped by prefix length in order of first appearance) is added to every score. Throws kInvalidArgument for an
// id >= V (HF raises ValueError).
void sequence_bias(float* scores, int V, const int32_t* ids, int len,
                   const std::vector<std::pair<std::vector<int32_t>, float>>& biases, ProcessorScratch& scratch);
// EncoderRepetitionPenaltyLogitsProcessor with the row's padded prompt ids[0, prompt_len) as encoder_input_ids:
// score < 0 ? score * (1 / penalty) : score / (1 / penalty), once per distinct id (1 / penalty rounded to fp32).
void encoder_repetition_penalty(float* scores, int V, const int32_t* prompt, int prompt_len, double penalty,
                                ProcessorScratch& scratch);
// ForcedBOSTokenLogitsProcessor / ForcedEOSTokenLogitsProcessor: every score -inf, the forced ids 0.
void force_tokens(float* scores, int V, const std::vector<int32_t>& ids, const char* field);
// InfNanRemoveLogitsProcessor: nan -> 0, +inf -> FLT_MAX, -inf -> -FLT_MAX.
void remove_invalid_values(float* scores, int V);
// ExponentialDecayLengthPenalty: once len > start (= T + start_index), eos scores += |score| * (factor ** (len -
// start) - 1) (the factor computed in double, rounded to fp32); non-finite eos scores are left alone.
void exponential_decay_length_penalty(float* scores, int V, int len, int start, double factor,
                                      const std::vector<int32_t>& eos);
// SuppressTokensLogitsProcessor (and ...AtBegin, applied by the chain only at its step): ids < V -> -inf.
void suppress_tokens(float* scores, int V, const std::vector<int32_t>& ids);

// ---- warpers (sampling only) ------------------------------------------------------------------------------------
// Parameters are the Python floats HF holds (double); each is rounded to fp32 where torch meets the fp32 tensor:
// scores / (float)t, cumsum <= (float)(1 - top_p), probs < (float)min_p * max_prob, cumsum < (float)mass.
void temperature(float* scores, int V, double t);
void top_k(float* scores, int V, int k, int min_tokens_to_keep, ProcessorScratch& scratch);
void top_p(float* scores, int V, double p, int min_tokens_to_keep, ProcessorScratch& scratch);
void min_p(float* scores, int V, double p, int min_tokens_to_keep, ProcessorScratch& scratch);
void typical_p(float* scores, int V, double mass, int min_tokens_to_keep, ProcessorScratch& scratch);
// TopHLogitsWarper: among the 100 best tokens, keep the most probable ones while the cumulative entropy term
// -p log p (p renormalized over those 100) stays <= top_h * their entropy; always the best one.
void top_h(float* scores, int V, double top_h, ProcessorScratch& scratch);
// EpsilonLogitsWarper: drop tokens with probability < (float)epsilon, except the min_tokens_to_keep best scores.
void epsilon_cutoff(float* scores, int V, double epsilon, int min_tokens_to_keep, ProcessorScratch& scratch);
// EtaLogitsWarper: the threshold is min(eta, sqrt(eta) * exp(-entropy)) in fp32.
void eta_cutoff(float* scores, int V, double eta, int min_tokens_to_keep, ProcessorScratch& scratch);

// fp32 softmax / log_softmax of one row as torch computes them (max-subtracted). out may alias in.
void softmax_row(const float* in, float* out, int V);
void log_softmax_row(const float* in, float* out, int V);

// The bad_words_ids list as NoBadWordsLogitsProcessor keeps it: duplicates removed, [eos] singletons dropped.
std::vector<std::vector<int32_t>> make_bad_words(const std::vector<std::vector<int32_t>>& bad_words_ids,
                                                 const std::vector<int32_t>& eos);

// The parameters the chain reads at run time (DESIGN.md §3: values live in a parameter buffer, not in the plan).
struct ProcessorParams {
  // processors, in HF's order
  std::vector<std::pair<std::vector<int32_t>, float>> sequence_bias;  // enabled when non-empty
  double encoder_repetition_penalty = 1.0;  // enabled when != 1
  float repetition_penalty = 1.0f;  // enabled when != 1
  int no_repeat_ngram_size = 0;     // enabled when > 0
  std::vector<std::vector<int32_t>> bad_words;  // filtered; enabled when non-empty
  int min_length = 0;               // enabled when > 0 and eos non-empty
  int min_new_tokens = 0;           // enabled when > 0 and eos non-empty
  std::vector<int32_t> eos;
  std::vector<int32_t> forced_bos;  // at len == 1; empty = off
  std::vector<int32_t> forced_eos;  // at len == max_length - 1; empty = off
  int max_length = 0;
  bool remove_invalid_values = false;
  bool has_decay = false;           // exponential_decay_length_penalty
  int decay_start = 0;              // T + start_index
  double decay_factor = 1.0;
  bool has_suppress = false;
  std::vector<int32_t> suppress_tokens;
  bool has_begin_suppress = false;
  std::vector<int32_t> begin_suppress_tokens;
  int begin_index = 0;              // T, or T + 1 when T == 1 and forced_bos is set
  bool renormalize_logits = false;  // last of all
  // warpers (only when do_sample)
  bool do_sample = false;
  double temperature = 1.0;         // enabled when != 1
  int top_k = 0;                    // enabled when != 0
  double top_p = 1.0;               // enabled when < 1
  bool has_min_p = false;
  double min_p = 0.0;
  double typical_p = 1.0;           // enabled when < 1
  bool has_top_h = false;
  double top_h = 1.0;
  double epsilon_cutoff = 0.0;      // enabled when in (0, 1)
  double eta_cutoff = 0.0;          // enabled when in (0, 1)
  int min_tokens_to_keep = 1;
};

// Derives the parameters from a GenerationConfig exactly as _get_logits_processor does. temperature == 0 means
// greedy (DESIGN.md §4), so warpers are off then. `prompt_len` is the padded prompt length T; `max_length` HF's
// max_length (T + new tokens; forced_eos_token_id acts at max_length - 1).
ProcessorParams make_processor_params(const GenerationConfig& cfg, int prompt_len, int max_length);

// The processors and warpers in HF order behind one apply().
class LogitsProcessorChain {
 public:
  LogitsProcessorChain() = default;
  LogitsProcessorChain(const GenerationConfig& cfg, int prompt_len, int max_length);
  explicit LogitsProcessorChain(ProcessorParams params, int prompt_len);

  // scores: [V] for one row, in place. ids: [len] the row's input_ids (pads + prompt + generated so far).
  // leading_pads: the row's count of leading zeros in the prompt attention mask (repetition-penalty ignore length).
  // Not thread-safe (shared scratch): use one chain per thread.
  void apply(float* scores, int V, const int32_t* ids, int len, int leading_pads);

  // Names of the enabled processors in application order (HF class names), e.g. for logs and compile-cache keys.
  std::vector<std::string> names() const;
  bool empty() const { return names().empty(); }
  const ProcessorParams& params() const { return params_; }

 private:
  void apply_warpers(float* scores, int V);
  ProcessorParams params_;
  int prompt_len_ = 0;
  ProcessorScratch scratch_;
};

}  // namespace jitgen::decoding
