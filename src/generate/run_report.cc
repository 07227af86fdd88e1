#include "generate/run_report.h"

#include <cmath>

#include <fmt/format.h>

namespace jitgen {

void check_finite_logits(const float* row, int V, int step, int r) {
  for (int v = 0; v < V; ++v)
    if (!std::isfinite(row[v]))
      throw_invalid_file(fmt::format("the model produced a non-finite logit ({}) for token {} at step {} in row {}: "
                                     "its weights likely hold NaN/Inf (load with --check-weights to find the tensor)",
                                     row[v], v, step, r));
}

std::unique_ptr<StepRunner> make_runner_for(const Model& model, int rows, int capacity, const GenerateOptions& o) {
  auto runner = make_step_runner(model, rows, capacity, o.mode, o.prompt_bucket, o.device);
  runner->set_profiling(o.profile);
  return runner;
}

void fill_run_report(const StepRunner& runner, GenerateOutput& out) {
  const RunnerStats s = runner.stats();
  out.cache_hits = s.cache_hits;
  out.cache_misses = s.cache_misses;
  out.compile_ms = s.compile_ms;
  const OpProfile p = runner.profile();
  out.kernel_ms.clear();
  for (const auto& row : p.rows) out.kernel_ms.emplace_back(row.label, row.ms);
  out.kernel_total_ms = p.kernel_ms;
  out.step_total_ms = p.step_ms;
}

}  // namespace jitgen
