// The generation loop (eager mode): prefill, then one step per new token. HF's order per step:
// logits of the last position -> logits processors -> token choice -> pad finished rows -> append ->
// stopping criteria.
#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "jitgen/generate.h"
#include "models/step_runner.h"
#include "models/model_impl.h"

namespace jitgen {

namespace {

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
    }
  }
}

int argmax(const float* x, int n) {
  // torch.argmax: the first index of the maximum.
  return static_cast<int>(std::max_element(x, x + n) - x);
}

}  // namespace

GenerateOutput generate(const Model& model, const GenerateInput& input, const GenerationConfig& cfg,
                        const StepCallback& on_step, ExecutionMode mode) {
  const ModelInfo& info = model.info();
  check_input(input, info);
  const int B = static_cast<int>(input.input_ids.size());
  const int T0 = static_cast<int>(input.input_ids[0].size());
  const int V = info.vocab_size;
  std::vector<std::vector<int32_t>> mask = input.attention_mask;
  if (mask.empty()) mask.assign(B, std::vector<int32_t>(T0, 1));

  const int max_new = cfg.max_new_tokens ? *cfg.max_new_tokens : std::max(0, cfg.max_length - T0);
  if (max_new < 0) throw_invalid_argument("max_new_tokens must be >= 0");
  if (T0 + max_new > info.n_positions)
    throw_limit(fmt::format("prompt length {} + max_new_tokens {} exceeds the model's n_positions {}", T0, max_new,
                            info.n_positions));
  // HF: no pad_token_id but an eos => pad with the first eos.
  const int32_t pad = cfg.pad_token_id ? *cfg.pad_token_id : (cfg.eos_token_id.empty() ? 0 : cfg.eos_token_id[0]);

  GenerateOutput out;
  out.prompt_length = T0;
  out.sequences = input.input_ids;
  if (max_new == 0) return out;

  // Position ids: cumsum(mask) - 1, pads at 1 (HF prepare_inputs_for_generation).
  std::vector<int32_t> next_pos(B, 0);
  std::vector<std::vector<int32_t>> pos(B, std::vector<int32_t>(T0));
  for (int b = 0; b < B; ++b) {
    int run = 0;
    for (int t = 0; t < T0; ++t) {
      run += mask[b][t];
      pos[b][t] = mask[b][t] ? run - 1 : 1;
    }
    next_pos[b] = run;
  }

  auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<StepRunner> runner = make_step_runner(model, B, T0 + max_new, mode);
  Tensor logits = runner->step(input.input_ids, pos, mask, true);  // [B, 1, V]
  out.prefill_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();

  std::vector<bool> unfinished(B, true);
  std::vector<std::vector<int32_t>> ids(B, std::vector<int32_t>(1)), p(B, std::vector<int32_t>(1)),
      m(B, std::vector<int32_t>(1, 1));
  std::vector<int32_t> tokens(B);
  for (int step = 0; step < max_new; ++step) {
    for (int b = 0; b < B; ++b) {
      const float* row = logits.f32() + static_cast<int64_t>(b) * V;
      tokens[b] = unfinished[b] ? argmax(row, V) : pad;
      out.sequences[b].push_back(tokens[b]);
    }
    ++out.new_tokens;
    if (on_step) on_step(step, tokens);
    bool any = false;
    for (int b = 0; b < B; ++b) {
      if (unfinished[b] && std::find(cfg.eos_token_id.begin(), cfg.eos_token_id.end(), tokens[b]) !=
                               cfg.eos_token_id.end())
        unfinished[b] = false;
      any = any || unfinished[b];
    }
    if (!any || step + 1 == max_new) break;
    for (int b = 0; b < B; ++b) {
      ids[b][0] = tokens[b];
      p[b][0] = next_pos[b]++;
    }
    logits = runner->step(ids, p, m, true);
  }
  out.decode_ms = ms_since(t0);
  return out;
}

}  // namespace jitgen
