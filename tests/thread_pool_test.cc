// runtime/thread_pool.h: parallel_for covers its range once, nests inline, and returns only after every part of the
// job ran -- also when jobs follow each other with no gap and different part counts, as a decode step's kernels do.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "runtime/thread_pool.h"

namespace jitgen {
namespace {

TEST(ThreadPool, CoversTheRangeOnceAndNests) {
  std::vector<int> hits(1001, 0);
  runtime::parallel_for(1001, 7, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) ++hits[i];
    runtime::parallel_for(3, 1, [](int64_t, int64_t) {});  // nested: runs inline
  });
  for (int h : hits) EXPECT_EQ(h, 1);
  runtime::parallel_for(0, 1, [](int64_t, int64_t) { FAIL(); });
}

// Back-to-back jobs of 2 and 8 parts: when parallel_for returns, exactly the job's units ran (each once). The pool
// used to keep the part count beside its state word, and a worker that found job g exhausted could read job g + 1's
// count (published first) and claim a phantom part of g: a range run with g + 1's parameters and an extra done count,
// so a later job returned with a part still running (a decode step read stale activations). That failed here 147
// times in 3,000,000 jobs (2 threads, quiet 2-core Zen 3 VM) and never once a part count shares the state word.
TEST(ThreadPool, BackToBackJobsRunEveryUnitOnceBeforeReturning) {
  const int threads = runtime::num_threads();
  if (threads < 2) runtime::set_num_threads(2);  // the race needs a worker beside the caller
  std::atomic<int64_t> ran{0};
  int64_t wrong = 0, first_wrong = -1, first_count = 0;
  constexpr int64_t kJobs = 2000000;
  for (int64_t job = 0; job < kJobs; ++job) {
    const int64_t units = job % 2 ? 8 : 2;
    ran.store(0, std::memory_order_relaxed);
    runtime::parallel_for(units, 1, [&](int64_t b, int64_t e) { ran.fetch_add(e - b, std::memory_order_relaxed); });
    const int64_t got = ran.load(std::memory_order_relaxed);
    if (got != units && wrong++ == 0) {
      first_wrong = job;
      first_count = got;
    }
  }
  if (threads < 2) runtime::set_num_threads(threads);
  EXPECT_EQ(wrong, 0) << wrong << " of " << kJobs << " jobs returned with other than their units run; the first, job "
                      << first_wrong << ", counted " << first_count;
}

}  // namespace
}  // namespace jitgen
