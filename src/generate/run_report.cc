#include "generate/run_report.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

namespace jitgen {

namespace {
// Whether any of x[0, n) is NaN or +-Inf: all exponent bits set. Integer ops without an early exit, so the compiler
// vectorizes it (the std::isfinite loop with its early exit ran element by element: 2% of a batch-32 SmolLM2 decode,
// which checks 32 x 49152 logits per step).
bool any_non_finite(const float* x, int n) {
  uint32_t bad = 0;
  for (int i = 0; i < n; ++i) {
    uint32_t b;
    std::memcpy(&b, x + i, 4);
    bad |= static_cast<uint32_t>((b & 0x7f800000u) == 0x7f800000u);
  }
  return bad != 0;
}
}  // namespace

void check_finite_logits(const float* row, int V, int step, int r) {
  if (!any_non_finite(row, V)) return;
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
