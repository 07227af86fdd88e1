// Beam search (and beam sampling) over the model (transformers 5.24 GenerationMixin._beam_search): every step runs
// the model on the last token of all batch * num_beams running rows, takes log_softmax, applies the processor chain
// (warpers too when sampling), lets BeamSearch pick the next beams, then reorders the KV cache rows to follow them.
#include <algorithm>
#include <chrono>

#include "generate/beam_search.h"
#include "generate/logits_processors.h"
#include "generate/loop.h"
#include "generate/run_report.h"
#include "models/step_runner.h"

namespace jitgen::decoding {

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
  LogitsProcessorChain chain(cfg, req.T);

  GenerateOutput out;
  out.prompt_length = req.T;
  std::vector<std::vector<int32_t>> ids(R), mask(R), pos(R);
  std::vector<int32_t> next_pos(R), lead(R);
  for (int r = 0; r < R; ++r) {
    const int b = r / nb;
    ids[r] = req.ids[b];
    mask[r] = req.mask[b];
    next_pos[r] = prompt_positions(mask[r], pos[r]);
    lead[r] = req.leading_pads[b];
  }

  auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<StepRunner> runner = make_runner_for(model, R, L, options);
  Tensor logits = runner->step(ids, pos, mask, true);  // [R, 1, V]
  out.prefill_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  t0 = std::chrono::steady_clock::now();

  std::vector<float> lp(static_cast<size_t>(R) * V);  // [R, V] processed log-probs
  std::vector<int32_t> step_pos(R);
  std::vector<int> src(R);
  while (!bs.done()) {
    for (int r = 0; r < R; ++r) {
      float* row = &lp[static_cast<size_t>(r) * V];
      check_finite_logits(logits.f32() + static_cast<int64_t>(r) * V, V, bs.cur_len(), r);
      log_softmax_row(logits.f32() + static_cast<int64_t>(r) * V, row, V);
      chain.apply(row, V, bs.running_sequence(r), bs.cur_len(), lead[r]);
    }
    if (cfg.output_scores) {
      out.scores.emplace_back(R);
      for (int r = 0; r < R; ++r)
        out.scores.back()[r].assign(lp.begin() + static_cast<size_t>(r) * V, lp.begin() + static_cast<size_t>(r + 1) * V);
    }
    bs.step(lp.data(), V, extra_stop);
    if (bs.done() || bs.cur_len() >= L) break;
    // The new row r continues old row source_rows()[r] (same prompt, so same positions).
    for (int r = 0; r < R; ++r) src[r] = bs.source_rows()[r];
    runner->reorder(src);
    for (int r = 0; r < R; ++r) step_pos[r] = next_pos[r]++;
    logits = runner->decode(bs.next_tokens().data(), step_pos.data());
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
