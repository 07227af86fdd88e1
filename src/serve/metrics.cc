#include "serve/metrics.h"

#include <fmt/format.h>

#include "ops/cpu_kernels.h"

namespace jitgen::serve {

void Histogram::observe(double seconds) {
  std::lock_guard lock(mu_);
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  if (i < kBounds.size()) ++counts_[i];
  ++count_;
  sum_ += seconds;
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
  std::lock_guard lock(mu_);
  std::string out = fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBounds[i], cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, sum_, name, count_);
  return out;
}

void Metrics::count_request(const std::string& route, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
}

std::string Metrics::render(const SchedulerStats& s) const {
  std::string out = "# HELP jitgen_requests_total HTTP requests answered, by route and status.\n"
                    "# TYPE jitgen_requests_total counter\n";
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, n] : requests_)
      out += fmt::format("jitgen_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
  }
  auto metric = [&](const char* name, const char* type, const char* help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  metric("jitgen_prompt_tokens_total", "counter", "Prompt tokens prefilled.", s.prompt_tokens);
  metric("jitgen_generated_tokens_total", "counter", "Tokens generated.", s.generated_tokens);
  metric("jitgen_queue_depth", "gauge", "Requests waiting for a batch slot.", s.queue_depth);
  metric("jitgen_slots_busy", "gauge", "Batch slots holding a sequence.", s.slots_busy);
  metric("jitgen_slots_total", "gauge", "Batch slots (--max-batch).", s.slots_total);
  metric("jitgen_decode_steps_total", "counter", "Batched decode steps run.", s.steps);
  metric("jitgen_batch_occupancy", "gauge", "Mean fraction of the slots fed per decode step.",
         s.steps > 0 && s.slots_total > 0
             ? static_cast<double>(s.rows_stepped) / static_cast<double>(s.steps * s.slots_total)
             : 0.0);
  metric("jitgen_compile_cache_hits_total", "counter", "Compiled plans found in the cache.", s.cache_hits);
  metric("jitgen_compile_cache_misses_total", "counter", "Plans compiled (or loaded) on a miss.", s.cache_misses);
  out += fmt::format("# HELP jitgen_cpu_simd_info The SIMD target the CPU kernels run on (1).\n"
                     "# TYPE jitgen_cpu_simd_info gauge\njitgen_cpu_simd_info{{target=\"{}\"}} 1\n",
                     cpu::simd_name());
  out += request_latency.render("jitgen_request_latency_seconds", "Time from request to its last token.");
  out += time_to_first_token.render("jitgen_time_to_first_token_seconds", "Time from request to its first token.");
  return out;
}

}  // namespace jitgen::serve
