#pragma once
// Beam search with the semantics of transformers 5.24.0 GenerationMixin._beam_search (the vectorised rewrite):
//
//  per step, for each batch entry b (nb = num_beams, K = max(2, 1 + #eos) * nb candidates):
//   1. acc[j, v] = log_probs[b*nb + j, v] + running_score[b, j]          (fp32; log_probs = processors(log_softmax))
//   2. the K best (beam, token) pairs over nb*V (greedy: top-K, ties -> lower flat index; sampling: K draws without
//      replacement from softmax(acc), Philox counter (step, b, draw), then sorted by acc, descending)
//   3. hits[k] = token is an EOS id || cur_len + 1 >= max_length || extra_stop(candidate sequence)
//   4. running beams = the nb best of (acc + hits * -1e9)   -- a finished candidate can still run with ~-1e9
//   5. finished hypotheses: candidate k is eligible iff hits[k] && k < nb; its score is
//        acc / (cur_len + 1 - prompt_len) ** length_penalty           (generated length INCLUDING the EOS token)
//      plus -1e9 when the entry is full and early_stopping is True, when the improvement heuristic already failed,
//      or when the candidate is not eligible; the nb best of (old finished ++ candidates) are kept (old first on ties)
//   6. improvement heuristic (sticky per entry): best running score / L ** length_penalty > worst finished score,
//      where L = max_length - prompt_len for early_stopping "never" with length_penalty > 0, else cur_len - prompt_len
//      (after the increment); a not-yet-finished slot counts as -1e9.
//   loop ends when no entry can improve, or (early_stopping True) every slot of every entry is finished, or every
//   candidate of the step hit a stopping criterion (e.g. max_length).
//  finalize: per entry the first num_return_sequences finished hypotheses (sorted by score, descending), cut to
//  prompt_len + the longest generated length among them; the fill value past a hypothesis' end is
//  (pad_token_id if set and != 0, else eos[0]) when an EOS id exists, else -1 -- HF's `pad or eos[0]` (a pad id of 0 is
//  falsy in Python, so it becomes eos[0]).
//
// The loop's part per step: run the model on running_sequence(row) (or its last token with a KV cache) for all
// rows = batch * num_beams, log_softmax each row, apply the LogitsProcessorChain on running_sequence(row), call
// step(), then reorder the KV cache rows by source_rows() and feed next_tokens(). Stop when done().
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "jitgen/generation_config.h"

namespace jitgen::decoding {

struct BeamSearchOptions {
  int batch_size = 1;
  int num_beams = 1;
  int prompt_len = 0;   // padded prompt length T (all rows share it)
  int max_length = 0;   // total length cap (T + max new tokens)
  double length_penalty = 1.0;
  EarlyStopping early_stopping = EarlyStopping::kFalse;
  std::vector<int32_t> eos;
  std::optional<int32_t> pad_token_id;
  int num_return_sequences = 1;
  bool do_sample = false;
  uint32_t seed[2] = {0, 0};
};

// Extra per-candidate stopping criteria (stop strings, max_time): true = this candidate sequence is finished.
using BeamStopFn = std::function<bool(const int32_t* ids, int len)>;

struct BeamSearchResult {
  int batch_size = 0;
  int num_return_sequences = 0;
  int length = 0;                                // prompt_len + longest generated length among returned sequences
  std::vector<std::vector<int32_t>> sequences;   // [batch * num_return_sequences][length]
  std::vector<float> scores;                     // [batch * num_return_sequences] HF sequences_scores
  std::vector<std::vector<int32_t>> beam_indices;  // [batch * nrs][length - prompt_len], -1 past the end
};

class BeamSearch {
 public:
  // prompts: [batch][prompt_len] (already padded); each is copied into all num_beams running rows.
  BeamSearch(const BeamSearchOptions& options, const std::vector<std::vector<int32_t>>& prompts);

  int rows() const { return opt_.batch_size * opt_.num_beams; }
  int cur_len() const { return cur_len_; }
  int step_index() const { return cur_len_ - opt_.prompt_len; }
  // The running sequence of flat row b * num_beams + j: [cur_len()] tokens.
  const int32_t* running_sequence(int row) const { return &running_seq_[static_cast<size_t>(row) * opt_.max_length]; }
  float running_score(int row) const { return running_score_[row]; }

  // log_probs: [rows(), V] processed log-probabilities of the next token (beam scores NOT added; done inside).
  void step(const float* log_probs, int V, const BeamStopFn& extra_stop = {});

  const std::vector<int32_t>& next_tokens() const { return next_tokens_; }  // [rows()] token appended to each row
  const std::vector<int32_t>& source_rows() const { return source_rows_; }  // [rows()] row each new row came from
  bool done() const { return done_; }

  BeamSearchResult finalize() const;

 private:
  BeamSearchOptions opt_;
  int beams_to_keep_ = 0;
  int cur_len_ = 0;
  int gen_cap_ = 0;  // max_length - prompt_len
  bool done_ = false;
  // running state, [batch][num_beams][...]
  std::vector<int32_t> running_seq_;      // [B*nb, max_length]
  std::vector<float> running_score_;      // [B*nb]
  std::vector<int32_t> running_bidx_;     // [B*nb, gen_cap]
  // finished hypotheses, [batch][num_beams]
  std::vector<int32_t> fin_seq_;
  std::vector<float> fin_score_;
  std::vector<int32_t> fin_bidx_;
  std::vector<uint8_t> fin_done_;
  std::vector<uint8_t> improvable_;       // [B] HF is_early_stop_heuristic_unsatisfied
  std::vector<int32_t> next_tokens_, source_rows_;
  // scratch
  std::vector<float> acc_;
  std::vector<int32_t> order_;
  std::vector<double> weights_;
};

}  // namespace jitgen::decoding
