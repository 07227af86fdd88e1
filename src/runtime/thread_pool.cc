#include "runtime/thread_pool.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <immintrin.h>

namespace jitgen::runtime {

namespace {

thread_local bool t_inside_pool = false;

// Workers spin for a short while after each job (decode issues ~100 parallel_for calls per token, a few
// microseconds apart), then sleep on an atomic wait so an idle process costs nothing.
class Pool {
 public:
  explicit Pool(int n) : n_(std::max(1, n)) {
    for (int i = 1; i < n_; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    stop_.store(true);
    generation_.fetch_add(1);
    generation_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    const int64_t units = (n + grain - 1) / grain;
    const int parts = static_cast<int>(std::min<int64_t>(units, n_));
    if (parts <= 1 || t_inside_pool) {
      if (n > 0) fn(0, n);
      return;
    }
    std::lock_guard<std::mutex> lock(run_mu_);  // one job at a time (callers from several threads queue)
    fn_ = &fn;
    n_total_ = n;
    grain_ = grain;
    units_ = units;
    parts_ = parts;
    pending_.store(parts - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    t_inside_pool = true;
    do_part(0);
    t_inside_pool = false;
    while (pending_.load(std::memory_order_acquire) != 0) _mm_pause();
  }

 private:
  void do_part(int p) {
    if (p >= parts_) return;
    const int64_t u0 = units_ * p / parts_, u1 = units_ * (p + 1) / parts_;
    const int64_t b = u0 * grain_, e = std::min(n_total_, u1 * grain_);
    if (b < e) (*fn_)(b, e);
  }
  void loop(int id) {
    t_inside_pool = true;
    // Generation 0 is the one the pool was built at: loading it here instead would lose a job that
    // run() published before this thread first got scheduled (a startup deadlock).
    uint64_t seen = 0;
    for (;;) {
      uint64_t g;
      int spins = 0;
      while ((g = generation_.load(std::memory_order_acquire)) == seen) {
        if (++spins < 200000) {
          _mm_pause();
        } else {
          generation_.wait(seen);
        }
      }
      seen = g;
      if (stop_.load()) return;
      if (id < parts_) {
        do_part(id);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  const int n_;
  std::vector<std::thread> workers_;
  std::mutex run_mu_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_total_ = 0, grain_ = 1, units_ = 0;
  int parts_ = 0;
};

int default_threads() {
  if (const char* e = std::getenv("JITGEN_NUM_THREADS")) {
    const int n = std::atoi(e);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

std::mutex g_mu;
std::unique_ptr<Pool> g_pool;

Pool& pool() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_pool) {
    openblas_set_num_threads(1);  // our pool splits BLAS calls itself
    g_pool = std::make_unique<Pool>(default_threads());
  }
  return *g_pool;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
  std::lock_guard<std::mutex> lock(g_mu);
  openblas_set_num_threads(1);
  g_pool = std::make_unique<Pool>(n);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  pool().run(n, std::max<int64_t>(1, grain), fn);
}

}  // namespace jitgen::runtime
