#include "models/step_runner.h"

#include "models/compiled_step_runner.h"
#include "models/eager_step_runner.h"

namespace jitgen {

const Tensor& StepRunner::decode(const int32_t* tokens, const int32_t* positions) {
  const int B = rows();
  std::vector<std::vector<int32_t>> ids(B, std::vector<int32_t>(1)), pos(B, std::vector<int32_t>(1)),
      mask(B, std::vector<int32_t>(1, 1));
  for (int b = 0; b < B; ++b) {
    ids[b][0] = tokens[b];
    pos[b][0] = positions[b];
  }
  decoded_ = step(ids, pos, mask, true);
  return decoded_;
}

std::unique_ptr<StepRunner> make_step_runner(const Model& model, int rows, int capacity, ExecutionMode mode,
                                             int prompt_bucket) {
  if (mode == ExecutionMode::kEager) return std::make_unique<EagerStepRunner>(model, rows, capacity);
  return std::make_unique<CompiledStepRunner>(model, rows, capacity, prompt_bucket);
}

}  // namespace jitgen
