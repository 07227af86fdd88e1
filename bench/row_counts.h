#pragma once
// Row counts a benchmark times, from an environment variable ("1,8,32"), for the bench binaries that let a run pick
// its batch sizes (kernels_bench KERNELS_BENCH_ROWS, quant_bench QUANT_BENCH_M).
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace jitgen::bench {

// `var`'s comma list of row counts in [1, max], or `fallback` when unset or empty. Anything else: a one-line error
// naming the variable and what it expects, exit status 2.
inline std::vector<int> row_counts(const char* var, std::vector<int> fallback, int max) {
  const char* env = std::getenv(var);
  if (!env || !*env) return fallback;
  std::vector<int> rows;
  for (const char* p = env; *p;) {
    char* end = nullptr;
    const long m = std::strtol(p, &end, 10);
    if (end == p || m < 1 || m > max) {
      std::fprintf(stderr, "%s=%s: expected a comma list of row counts in 1..%d\n", var, env, max);
      std::exit(2);
    }
    rows.push_back(static_cast<int>(m));
    p = *end == ',' ? end + 1 : end;
  }
  return rows;
}

}  // namespace jitgen::bench
