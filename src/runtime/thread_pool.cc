#include "runtime/thread_pool.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace jitgen::runtime {

namespace {

// One spin-wait step: tells the core this thread is waiting (x86 pause, ARM yield), so a sibling hyperthread
// or the waited-for worker gets the pipeline.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#endif
}

thread_local bool t_inside_pool = false;

// A job is split into up to 4 parts per thread; every thread, the caller included, claims parts with a
// CAS on `state_` until none are left. A worker that the OS has not scheduled yet simply claims nothing, so a
// busy machine degrades to fewer threads instead of making the caller wait for a sleeping worker. Workers spin
// ~50 us between jobs (decode issues ~100 jobs per token, microseconds apart), then sleep on an atomic wait.
//
// state_ = job generation << 32 | part count << 16 | next part: a claim checks "next < count" on the word it
// swaps, so it can only take a part of the job that word belongs to. (The count used to live in its own atomic,
// read between the load and the CAS: a worker that had just found job g exhausted could read job g + 1's larger
// count, published before g + 1's generation, and its CAS on g's unchanged word then claimed a part g never had.
// That phantom part ran a range with the next job's parameters and added one to the next job's done count, so
// the caller could return while a real part still ran: about once in 10^5 decode steps on a loaded 2-core VM, one
// step's activations or K/V rows were left stale or overwritten late -- the transient greedy mismatches of
// sessions 4-15. tests/thread_pool_test.cc counts the units each job ran.)
class Pool {
 public:
  explicit Pool(int n) : n_(std::max(1, n)) {
    for (int i = 1; i < n_; ++i) workers_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    stop_.store(true);
    state_.fetch_add(uint64_t{1} << 32);
    state_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }

  void run(int64_t n, int64_t grain, const RangeFn& fn) {
    const int64_t units = (n + grain - 1) / grain;
    const int parts = static_cast<int>(std::min<int64_t>({units, static_cast<int64_t>(n_) * 4, kMaxParts}));
    if (parts <= 1 || n_ == 1 || t_inside_pool) {
      if (n > 0) fn(0, n);
      return;
    }
    std::lock_guard<std::mutex> lock(run_mu_);  // one job at a time (callers from several threads queue)
    fn_.store(&fn, std::memory_order_relaxed);
    n_total_.store(n, std::memory_order_relaxed);
    grain_.store(grain, std::memory_order_relaxed);
    units_.store(units, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    const uint64_t gen = (state_.load(std::memory_order_relaxed) >> 32) + 1;
    state_.store(gen << 32 | static_cast<uint64_t>(parts) << 16);  // seq_cst: pairs with the sleepers_ check in loop()
    if (sleepers_.load() > 0) state_.notify_all();
    t_inside_pool = true;
    work(gen);
    t_inside_pool = false;
    for (int spins = 0; done_.load(std::memory_order_acquire) < parts; ++spins) {
      if (spins < 4000) cpu_relax();
      else std::this_thread::yield();  // a claimed part runs on a preempted worker: let it finish
    }
  }

 private:
  void work(uint64_t gen) {
    for (;;) {
      uint64_t s = state_.load(std::memory_order_acquire);
      if ((s >> 32) != gen) return;
      const int parts = static_cast<int>((s >> 16) & 0xFFFFu), idx = static_cast<int>(s & 0xFFFFu);
      if (idx >= parts) return;
      if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) continue;
      // Part idx of job `gen` is ours: that job cannot finish before this part's done_ increment, so the
      // parameters below are still the ones its caller published before the generation.
      const int64_t units = units_.load(std::memory_order_relaxed), grain = grain_.load(std::memory_order_relaxed);
      const int64_t u0 = units * idx / parts, u1 = units * (idx + 1) / parts;
      const int64_t b = u0 * grain, e = std::min(n_total_.load(std::memory_order_relaxed), u1 * grain);
      if (b < e) (*fn_.load(std::memory_order_relaxed))(b, e);
      done_.fetch_add(1, std::memory_order_release);
    }
  }
  void loop() {
    t_inside_pool = true;
    uint64_t seen = 0;
    for (;;) {
      uint64_t s;
      for (int spins = 0; ((s = state_.load(std::memory_order_acquire)) >> 32) == seen; ++spins) {
        if (stop_.load(std::memory_order_relaxed)) return;
        if (spins < 2000) {
          cpu_relax();
          continue;
        }
        sleepers_.fetch_add(1);
        if ((state_.load() >> 32) == seen) state_.wait(s);
        sleepers_.fetch_sub(1);
        spins = 0;
      }
      if (stop_.load()) return;
      seen = s >> 32;
      work(seen);
    }
  }

  const int n_;
  std::vector<std::thread> workers_;
  std::mutex run_mu_;
  std::atomic<uint64_t> state_{0};
  static constexpr int64_t kMaxParts = 0xFFFF;  // the part count's 16 bits in state_
  std::atomic<int> done_{0}, sleepers_{0};
  std::atomic<bool> stop_{false};
  std::atomic<const RangeFn*> fn_{nullptr};
  std::atomic<int64_t> n_total_{0}, grain_{1}, units_{0};
};

int default_threads() {
  if (const char* e = std::getenv("JITGEN_NUM_THREADS")) {
    const int n = std::atoi(e);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

std::mutex g_mu;
// g_pool once made: every parallel_for reads it, nested ones too (a quantized tile's fused activation runs one per
// tile), so the common path is one atomic load, not the mutex. Locking g_mu on every call was 1.6% of the samples
// of a batch-32 SmolLM2 int4 decode on one thread (perf: TileSink::store -> activation -> parallel_for).
std::atomic<Pool*> g_current{nullptr};
std::unique_ptr<Pool> g_pool;
// Destroyed before g_pool (declared after it): at exit g_current no longer points at the pool being freed, so a late
// parallel_for goes through the mutex to g_pool (and makes a new pool if it is gone) instead of using freed memory.
struct ClearCurrentAtExit {
  ~ClearCurrentAtExit() { g_current.store(nullptr); }
} g_clear_current_at_exit;

Pool& pool() {
  if (Pool* p = g_current.load(std::memory_order_acquire)) return *p;
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_pool) {
    openblas_set_num_threads(1);  // our pool splits BLAS calls itself
    g_pool = std::make_unique<Pool>(default_threads());
    g_current.store(g_pool.get(), std::memory_order_release);
  }
  return *g_pool;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
  std::lock_guard<std::mutex> lock(g_mu);
  openblas_set_num_threads(1);
  auto next = std::make_unique<Pool>(n);
  g_current.store(next.get(), std::memory_order_release);
  g_pool = std::move(next);  // as before, not while another thread runs a job on the old pool
}

void parallel_for(int64_t n, int64_t grain, RangeFn fn) {
  pool().run(n, std::max<int64_t>(1, grain), fn);
}

}  // namespace jitgen::runtime
