// Model::forward_logits lives with the runners it drives (exec/ depends on models/, never the reverse).
#include "exec/step_runner.h"
#include "models/model_impl.h"

namespace jitgen {

std::vector<std::vector<float>> Model::forward_logits(const std::vector<std::vector<int32_t>>& input_ids,
                                                      const std::vector<std::vector<int32_t>>& attention_mask,
                                                      ExecutionMode mode) const {
  const int B = static_cast<int>(input_ids.size());
  if (B == 0) return {};
  const int T = static_cast<int>(input_ids[0].size());
  std::vector<std::vector<int32_t>> mask = attention_mask;
  if (mask.empty()) mask.assign(B, std::vector<int32_t>(T, 1));
  std::vector<std::vector<int32_t>> pos(B);
  for (int b = 0; b < B; ++b) prompt_positions(mask[b], pos[b]);
  const Tensor logits = make_step_runner(*this, B, T, mode)->step(input_ids, pos, mask, false);  // [B, T, V]
  const int64_t row = static_cast<int64_t>(T) * info().vocab_size;
  std::vector<std::vector<float>> out(B);
  for (int b = 0; b < B; ++b) out[b].assign(logits.f32() + b * row, logits.f32() + (b + 1) * row);
  return out;
}

}  // namespace jitgen
