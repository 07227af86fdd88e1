// Beam search (and beam sampling) over the model (transformers 5.24 GenerationMixin._beam_search): every step runs
// the model on the last token of all batch * num_beams running rows, takes log_softmax, applies the processor chain
// (warpers too when sampling), lets BeamSearch pick the next beams, then reorders the KV cache rows to follow them.
#include <algorithm>
#include <chrono>

#include "generate/beam_search.h"
#include "generate/logits_processors.h"
#include "generate/loop.h"
#include "generate/run_report.h"
#include "exec/step_runner.h"

namespace jitgen::decoding {

namespace {

// The beam step's host side as the step graph runs it (Builder::select_tokens + reorder_rows): log_softmax and the
// processor chain per row, BeamSearch's candidate choice, then the rows to gather for the KV cache.
class BeamSelect final : public TokenSelect {
 public:
  BeamSelect(BeamSearch& bs, LogitsProcessorChain& chain, const std::vector<int32_t>& lead, int V, int max_length,
             const BeamStopFn& extra_stop, std::vector<std::vector<std::vector<float>>>* scores)
      : bs_(bs), chain_(chain), lead_(lead), max_length_(max_length), extra_stop_(extra_stop), scores_(scores),
        lp_(static_cast<size_t>(bs.rows()) * V) {}

  void select(const float* logits, int64_t R, int64_t V, int32_t* tokens) override {
    JITGEN_CHECK(R == bs_.rows());
    for (int64_t r = 0; r < R; ++r) {
      float* row = &lp_[static_cast<size_t>(r) * V];
      check_finite_logits(logits + r * V, static_cast<int>(V), bs_.cur_len(), static_cast<int>(r));
      log_softmax_row(logits + r * V, row, static_cast<int>(V));
      chain_.apply(row, static_cast<int>(V), bs_.running_sequence(static_cast<int>(r)), bs_.cur_len(), lead_[r]);
    }
    if (scores_) {
      scores_->emplace_back(R);
      for (int64_t r = 0; r < R; ++r) scores_->back()[r].assign(lp_.begin() + r * V, lp_.begin() + (r + 1) * V);
    }
    bs_.step(lp_.data(), static_cast<int>(V), extra_stop_);
    std::copy(bs_.next_tokens().begin(), bs_.next_tokens().end(), tokens);
    // The new row r continues old row source_rows()[r]; nothing to move once the search is over.
    reorder_ = !(bs_.done() || bs_.cur_len() >= max_length_);
  }
  const int32_t* source_rows() const override { return reorder_ ? bs_.source_rows().data() : nullptr; }
  // int32_t is int: what StepRunner::reorder takes
  const std::vector<int32_t>& sources() const { return bs_.source_rows(); }

 private:
  BeamSearch& bs_;
  LogitsProcessorChain& chain_;
  const std::vector<int32_t>& lead_;
  int max_length_;
  const BeamStopFn& extra_stop_;
  std::vector<std::vector<std::vector<float>>>* scores_;
  std::vector<float> lp_;  // [R, V] processed log-probs
  bool reorder_ = false;
};

}  // namespace

GenerateOutput beam_loop(const Model& model, const Request& req, const GenerationConfig& cfg,
                         const GenerateOptions& options) {
  const int nb = cfg.num_beams, V = req.V, L = req.max_length;
  BeamSearchOptions o;
  o.batch_size = req.B;
  o.num_beams = nb;
  o.prompt_len = req.T;
  o.max_length = L;
  o.length_penalty = cfg.length_penalty;
  o.early_stopping = cfg.early_stopping;
  o.eos = cfg.eos_token_id;
  o.pad_token_id = cfg.pad_token_id;
  o.num_return_sequences = cfg.num_return_sequences;
  o.do_sample = decoding_mode(cfg) == DecodingMode::kBeamSample;
  o.seed[0] = cfg.seed[0];
  o.seed[1] = cfg.seed[1];
  BeamSearch bs(o, req.ids);
  const int R = bs.rows();  // B * nb, row b * nb + j

  // Stop strings and max_time act per candidate, like HF's stopping criteria on the candidate sequences.
  // (max_length and eos are BeamSearch's own rules.)
  StoppingCriteria extra(INT32_MAX, {}, cfg.max_time, req.stop);
  BeamStopFn extra_stop;
  if (req.stop || cfg.max_time)
    extra_stop = [&extra](const int32_t* ids, int len) { return extra.row_done(ids, len); };
  LogitsProcessorChain chain(cfg, req.T, L);

  GenerateOutput out;
  out.prompt_length = req.T;
  ExpandedRows x = expand_rows(req, nb);

  // The beam step (processors, candidate choice, KV rows following their beams) is traced into the step program
  // where the runner can; else the same BeamSelect runs here and the runner reorders its cache.
  BeamSelect select(bs, chain, x.lead, V, L, extra_stop, cfg.output_scores ? &out.scores : nullptr);
  auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<StepRunner> runner = make_runner_for(model, R, L, options);
  const bool traced = runner->set_select(&select, "beam");
  std::vector<int32_t> tokens(R);
  auto take = [&](const Tensor& t) {
    if (traced) {
      std::copy_n(t.i32(), R, tokens.begin());
      return;
    }
    select.select(t.f32(), R, V, tokens.data());
    if (select.source_rows()) runner->reorder(select.sources());
  };
  take(runner->step(x.ids, x.pos, x.mask, true));
  out.prefill_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  t0 = std::chrono::steady_clock::now();

  std::vector<int32_t> step_pos(R);
  while (!bs.done() && bs.cur_len() < L) {
    for (int r = 0; r < R; ++r) step_pos[r] = x.next_pos[r]++;
    take(runner->decode(tokens.data(), step_pos.data()));
  }
  out.decode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  fill_run_report(*runner, out);

  BeamSearchResult res = bs.finalize();
  out.sequences = std::move(res.sequences);
  out.sequences_scores = std::move(res.scores);
  out.beam_indices = std::move(res.beam_indices);
  out.new_tokens = res.length - req.T;
  for (int b = 0; b < req.B; ++b)
    for (int k = 0; k < cfg.num_return_sequences; ++k) out.prompt_index.push_back(b);
  if (cfg.output_scores) {
    // HF compute_transition_scores: scores[t][beam_indices[t]][token], 0 past a sequence's end.
    out.token_scores.assign(out.sequences.size(), std::vector<float>(out.new_tokens, 0.0f));
    for (size_t i = 0; i < out.sequences.size(); ++i)
      for (int t = 0; t < out.new_tokens && t < static_cast<int>(out.scores.size()); ++t) {
        const int bi = out.beam_indices[i][t];
        if (bi >= 0) out.token_scores[i][t] = out.scores[t][bi][out.sequences[i][req.T + t]];
      }
  }
  return out;
}

}  // namespace jitgen::decoding
