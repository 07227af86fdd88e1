#pragma once
// Copies a step runner's compile-cache counters and kernel profile into a GenerateOutput.
#include "jitgen/generate.h"
#include "exec/step_runner.h"

namespace jitgen {

std::unique_ptr<StepRunner> make_runner_for(const Model& model, int rows, int capacity, const GenerateOptions& o);
void fill_run_report(const StepRunner& runner, GenerateOutput& out);
// Throws a clear error when a row of model logits holds NaN or Inf (broken weights), instead of letting
// argmax / sampling pick a meaningless token.
void check_finite_logits(const float* row, int V, int step, int r);

}  // namespace jitgen
