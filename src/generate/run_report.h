#pragma once
// Copies a step runner's compile-cache counters and kernel profile into a GenerateOutput.
#include "jitgen/generate.h"
#include "models/step_runner.h"

namespace jitgen {

std::unique_ptr<StepRunner> make_runner_for(const Model& model, int rows, int capacity, const GenerateOptions& o);
void fill_run_report(const StepRunner& runner, GenerateOutput& out);

}  // namespace jitgen
