#include "models/step_runner.h"

#include "models/compiled_step_runner.h"
#include "models/eager_step_runner.h"

namespace jitgen {

std::unique_ptr<StepRunner> make_step_runner(const Model& model, int rows, int capacity, ExecutionMode mode,
                                             int prompt_bucket) {
  if (mode == ExecutionMode::kEager) return std::make_unique<EagerStepRunner>(model, rows, capacity);
  return std::make_unique<CompiledStepRunner>(model, rows, capacity, prompt_bucket);
}

}  // namespace jitgen
