#pragma once
// The one thread pool of the process. Every parallel kernel (GEMV panels, attention heads, prefill GEMM
// column slices) runs on it; OpenBLAS is pinned to one thread so the two never oversubscribe the cores.
// Size: JITGEN_NUM_THREADS, else the number of online CPUs. The calling thread works as worker 0.
#include <cstdint>
#include <functional>

namespace jitgen::runtime {

// Threads that parallel_for uses (including the caller).
int num_threads();
// Changes the pool size (joins the old workers). Not thread-safe against a running parallel_for.
void set_num_threads(int n);

// Splits [0, n) into at most num_threads() contiguous chunks of whole `grain`s and runs
// fn(begin, end) on each, the first chunk on the calling thread. Returns when all are done.
// Nested calls (from inside fn) run serially on the calling thread.
// A non-owning reference to a callable taking a [begin, end) range. Unlike std::function it never
// allocates, so the compiled decode step stays allocation-free. The callable must outlive the call.
class RangeFn {
 public:
  template <typename F>
  RangeFn(const F& f)  // NOLINT: implicit, so lambdas pass straight in
      : obj_(&f), call_([](const void* o, int64_t b, int64_t e) { (*static_cast<const F*>(o))(b, e); }) {}
  void operator()(int64_t b, int64_t e) const { call_(obj_, b, e); }

 private:
  const void* obj_;
  void (*call_)(const void*, int64_t, int64_t);
};

void parallel_for(int64_t n, int64_t grain, RangeFn fn);

}  // namespace jitgen::runtime
