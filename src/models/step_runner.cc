#include "models/step_runner.h"

#include "models/eager_step_runner.h"

namespace jitgen {

std::unique_ptr<StepRunner> make_step_runner(const Model& model, int rows, int capacity, ExecutionMode mode) {
  switch (mode) {
    case ExecutionMode::kEager:
      return std::make_unique<EagerStepRunner>(model, rows, capacity);
    case ExecutionMode::kCompiled:
      break;
  }
  throw_invalid_argument("--mode compiled is not available in this build");
}

}  // namespace jitgen
