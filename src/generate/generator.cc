// The generation loop: validation, then prefill and one model step per new token, with HF's order per step
// (transformers 5.24 GenerationMixin._sample): logits of the last position -> logits processors (and warpers when
// sampling) -> token choice -> pad for finished rows -> append -> stopping criteria. Beam search: beam_loop.cc.
#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "generate/logits_processors.h"
#include "generate/loop.h"
#include "generate/token_chooser.h"
#include "jitgen/generate.h"
#include "jitgen/tokenizer.h"
#include "generate/run_report.h"
#include "exec/step_runner.h"

namespace jitgen {

namespace {

using namespace decoding;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void check_input(const GenerateInput& in, const ModelInfo& info) {
  if (in.input_ids.empty()) throw_invalid_argument("input_ids: the batch is empty");
  const size_t T = in.input_ids[0].size();
  if (T == 0) throw_invalid_argument("input_ids: the prompt is empty (HF needs at least one token, e.g. bos)");
  for (size_t b = 0; b < in.input_ids.size(); ++b) {
    if (in.input_ids[b].size() != T)
      throw_invalid_argument(fmt::format("input_ids: row {} has {} tokens, row 0 has {}; pad the batch", b,
                                         in.input_ids[b].size(), T));
    for (int32_t id : in.input_ids[b])
      if (id < 0 || id >= info.vocab_size)
        throw_invalid_argument(
            fmt::format("input_ids: token id {} in row {} is outside the vocabulary [0, {})", id, b, info.vocab_size));
  }
  if (!in.attention_mask.empty()) {
    if (in.attention_mask.size() != in.input_ids.size())
      throw_invalid_argument("attention_mask: must have one row per input_ids row");
    for (size_t b = 0; b < in.attention_mask.size(); ++b) {
      if (in.attention_mask[b].size() != T)
        throw_invalid_argument(fmt::format("attention_mask: row {} length differs from input_ids", b));
      for (int32_t m : in.attention_mask[b])
        if (m != 0 && m != 1) throw_invalid_argument("attention_mask: values must be 0 or 1");
      if (std::find(in.attention_mask[b].begin(), in.attention_mask[b].end(), 1) == in.attention_mask[b].end())
        throw_invalid_argument(fmt::format("attention_mask: row {} has no real token", b));
    }
  }
}

void check_config_ids(const GenerationConfig& cfg, int V) {
  auto in_vocab = [V](int32_t id) { return id >= 0 && id < V; };
  for (int32_t e : cfg.eos_token_id)
    if (!in_vocab(e)) throw_invalid_argument(fmt::format("eos_token_id {} is outside the vocabulary [0, {})", e, V));
  if (cfg.pad_token_id && !in_vocab(*cfg.pad_token_id))
    throw_invalid_argument(fmt::format("pad_token_id {} is outside the vocabulary [0, {})", *cfg.pad_token_id, V));
  for (const auto& seq : cfg.bad_words_ids)
    for (int32_t id : seq)
      if (!in_vocab(id)) throw_invalid_argument(fmt::format("bad_words_ids: id {} is outside the vocabulary [0, {})", id, V));
  // HF raises for these (ValueError / IndexError); suppress_tokens ids past V match nothing in HF: allowed.
  for (const auto& [seq, bias] : cfg.sequence_bias)
    for (int32_t id : seq)
      if (!in_vocab(id)) throw_invalid_argument(fmt::format("sequence_bias: id {} is outside the vocabulary [0, {})", id, V));
  if (cfg.forced_bos_token_id && !in_vocab(*cfg.forced_bos_token_id))
    throw_invalid_argument(
        fmt::format("forced_bos_token_id {} is outside the vocabulary [0, {})", *cfg.forced_bos_token_id, V));
  for (int32_t id : cfg.forced_eos_token_id)
    if (!in_vocab(id)) throw_invalid_argument(fmt::format("forced_eos_token_id {} is outside the vocabulary [0, {})", id, V));
}

Request prepare(const Model& model, const GenerateInput& input, const GenerationConfig& cfg,
                const GenerateOptions& options) {
  const ModelInfo& info = model.info();
  check_input(input, info);
  Request req;
  req.B = static_cast<int>(input.input_ids.size());
  req.T = static_cast<int>(input.input_ids[0].size());
  req.V = info.vocab_size;
  validate(cfg, info.n_positions, req.T);
  check_config_ids(cfg, req.V);
  req.max_length = effective_max_length(cfg, req.T, info.n_positions);
  req.ids = input.input_ids;
  req.mask = input.attention_mask;
  if (req.mask.empty()) req.mask.assign(req.B, std::vector<int32_t>(req.T, 1));
  for (const auto& m : req.mask)
    req.leading_pads.push_back(static_cast<int>(std::find(m.begin(), m.end(), 1) - m.begin()));
  req.pad = resolved_pad_token_id(cfg);
  if (!cfg.stop_strings.empty()) {
    if (!options.tokenizer) throw_invalid_argument("stop_strings need a tokenizer (GenerateOptions::tokenizer)");
    req.stop = StopStringMatcher::from_tokenizer(*options.tokenizer, cfg.stop_strings);
  }
  return req;
}

}  // namespace

ExpandedRows decoding::expand_rows(const Request& req, int per_prompt) {
  const int R = req.B * per_prompt;
  ExpandedRows x;
  x.ids.resize(R);
  x.mask.resize(R);
  x.pos.resize(R);
  x.next_pos.resize(R);
  x.lead.resize(R);
  for (int r = 0; r < R; ++r) {
    const int b = r / per_prompt;
    x.ids[r] = req.ids[b];
    x.mask[r] = req.mask[b];
    x.next_pos[r] = prompt_positions(x.mask[r], x.pos[r]);
    x.lead[r] = req.leading_pads[b];
  }
  return x;
}

namespace {

// Greedy and multinomial sampling, num_return_sequences rows per prompt (HF _expand_inputs_for_generation).
GenerateOutput sample_loop(const Model& model, const Request& req, const GenerationConfig& cfg,
                           const GenerateOptions& options) {
  const int nrs = cfg.num_return_sequences, R = req.B * nrs, V = req.V, L = req.max_length;
  TokenChooser chooser(cfg, req.T, L, req.pad, req.stop);

  GenerateOutput out;
  out.prompt_length = req.T;
  ExpandedRows x = expand_rows(req, nrs);
  std::vector<DecodeRow> rows(R);
  for (int r = 0; r < R; ++r) {
    rows[r].seq = x.ids[r];
    rows[r].seq.reserve(L);
    rows[r].leading_pads = x.lead[r];
    rows[r].row = r;
    out.prompt_index.push_back(r / nrs);
  }
  if (cfg.output_scores) out.token_scores.assign(R, {});

  // The token choice is traced into the step program (select_tokens) where the runner can; else it runs here on
  // the logits. Either way RowsSelect does it, so both paths choose identical tokens.
  RowsSelect select(chooser, rows, cfg.output_scores ? &out.scores : nullptr,
                    cfg.output_scores ? &out.token_scores : nullptr);
  auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<StepRunner> runner = make_runner_for(model, R, L, options);
  const bool traced = runner->set_select(&select, select.kind());
  std::vector<int32_t> tokens(R);
  auto take = [&](const Tensor& t) {  // the step's output: chosen tokens, or logits to choose from
    if (traced) std::copy_n(t.i32(), R, tokens.begin());
    else select.select(t.f32(), R, V, tokens.data());
  };
  take(runner->step(x.ids, x.pos, x.mask, true));
  out.prefill_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();

  std::vector<int32_t> step_pos(R);  // positions of the tokens fed at the next step
  for (int step = 0;; ++step) {
    ++out.new_tokens;
    if (options.on_step) options.on_step(step, tokens);
    if (!select.any_unfinished() || req.T + out.new_tokens >= L) break;
    for (int r = 0; r < R; ++r) step_pos[r] = x.next_pos[r]++;
    take(runner->decode(tokens.data(), step_pos.data()));
  }
  out.decode_ms = ms_since(t0);
  for (DecodeRow& r : rows) out.sequences.push_back(std::move(r.seq));
  fill_run_report(*runner, out);
  return out;
}

}  // namespace

GenerateOutput generate(const Model& model, const GenerateInput& input, const GenerationConfig& cfg,
                        const GenerateOptions& options) {
  const Request req = prepare(model, input, cfg, options);
  const DecodingMode m = decoding_mode(cfg);
  if (m == DecodingMode::kBeam || m == DecodingMode::kBeamSample) return beam_loop(model, req, cfg, options);
  return sample_loop(model, req, cfg, options);
}

GenerateOutput generate(const Model& model, const GenerateInput& input, const GenerationConfig& cfg,
                        const StepCallback& on_step, ExecutionMode mode) {
  GenerateOptions o;
  o.on_step = on_step;
  o.mode = mode;
  return generate(model, input, cfg, o);
}

}  // namespace jitgen
