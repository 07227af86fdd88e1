#include "runtime/roofline.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#define JITGEN_ROOFLINE_AVX2 1
#else
#define JITGEN_ROOFLINE_AVX2 0
#endif

#include "runtime/thread_pool.h"

namespace jitgen::runtime {

namespace {

using Clock = std::chrono::steady_clock;

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], FreeDeleter>;

Buffer alloc(int64_t n) { return Buffer(static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)))); }

#if JITGEN_ROOFLINE_AVX2
// AVX2 streams (non-temporal stores for the triad) where the CPU has them; plain loops elsewhere (other ISAs: the
// compiler's vectorization of the plain loops).
__attribute__((target("avx2,fma"))) void triad_avx2(float* a, const float* b, const float* c, float s, int64_t lo,
                                                    int64_t hi) {
  const __m256 sv = _mm256_set1_ps(s);
  for (int64_t i = lo; i < hi; i += 8)
    _mm256_stream_ps(a + i, _mm256_fmadd_ps(sv, _mm256_load_ps(c + i), _mm256_load_ps(b + i)));
}
#endif
void triad_plain(float* a, const float* b, const float* c, float s, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; ++i) a[i] = b[i] + s * c[i];
}
#if JITGEN_ROOFLINE_AVX2
__attribute__((target("avx2,fma"))) float sum_avx2(const float* a, int64_t lo, int64_t hi) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (int64_t i = lo; i < hi; i += 32) {
    s0 = _mm256_add_ps(s0, _mm256_load_ps(a + i));
    s1 = _mm256_add_ps(s1, _mm256_load_ps(a + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_load_ps(a + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_load_ps(a + i + 24));
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#endif
float sum_plain(const float* a, int64_t lo, int64_t hi) {
  float s = 0;
  for (int64_t i = lo; i < hi; ++i) s += a[i];
  return s;
}

bool cpu_has_avx2() {
#if JITGEN_ROOFLINE_AVX2
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}
void triad(bool avx2, float* a, const float* b, const float* c, float s, int64_t lo, int64_t hi) {
#if JITGEN_ROOFLINE_AVX2
  if (avx2) return triad_avx2(a, b, c, s, lo, hi);
#endif
  triad_plain(a, b, c, s, lo, hi);
}
float sum(bool avx2, const float* a, int64_t lo, int64_t hi) {
#if JITGEN_ROOFLINE_AVX2
  if (avx2) return sum_avx2(a, lo, hi);
#endif
  return sum_plain(a, lo, hi);
}
// The streamed (non-temporal) stores are globally visible before the clock stops.
void store_fence() {
#if JITGEN_ROOFLINE_AVX2
  _mm_sfence();
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double process_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

}  // namespace

Bandwidth measure_bandwidth(int repeats) {
  const int64_t n = int64_t{1} << 25;  // 32 Mi floats = 128 MiB per array, 4x the LLC
  const int64_t grain = 4096;
  Buffer a = alloc(n), b = alloc(n), c = alloc(n);
  const bool avx2 = cpu_has_avx2();
  // First touch from the pool, so pages land where the threads that stream them run.
  parallel_for(n, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) a[i] = 0, b[i] = 1, c[i] = 2;
  });
  Bandwidth bw;
  std::vector<float> sink(64);
  for (int r = 0; r < std::max(1, repeats); ++r) {
    auto t0 = Clock::now();
    parallel_for(n, grain, [&](int64_t lo, int64_t hi) {
      triad(avx2, a.get(), b.get(), c.get(), 3.0f, lo, hi);
    });
    store_fence();
    bw.triad_gbps = std::max(bw.triad_gbps, 3.0 * n * sizeof(float) / seconds_since(t0) / 1e9);
    t0 = Clock::now();
    const double c0 = process_cpu_s();
    parallel_for(n, grain, [&](int64_t lo, int64_t hi) {
      const float s = sum(avx2, b.get(), lo, hi);
      sink[(lo / grain) % 64] += s;
    });
    bw.read_gbps = std::max(bw.read_gbps, 1.0 * n * sizeof(float) / seconds_since(t0) / 1e9);
    const double cpu_per_thread = (process_cpu_s() - c0) / std::max(1, num_threads());
    if (cpu_per_thread > 0) bw.read_cpu_gbps = std::max(bw.read_cpu_gbps, 1.0 * n * sizeof(float) / cpu_per_thread / 1e9);
  }
  volatile float keep = sink[0];
  (void)keep;
  return bw;
}

double measure_bandwidth_gbps() { return measure_bandwidth().triad_gbps; }

double bytes_per_decode_step(const DecodeShape& s, int weight_bytes, int64_t batch, int64_t context) {
  const double C = static_cast<double>(s.n_embd), I = static_cast<double>(s.inner);
  const int64_t kv_width = s.kv_width > 0 ? s.kv_width : s.n_embd;
  const double KV = static_cast<double>(kv_width);
  // Per layer: q/k/v C x (C + 2 KV), attn c_proj C x C, c_fc C x I, mlp c_proj I x C; biases and norms in fp32.
  const double layer_params = C * (C + 2 * KV) + C * C + C * I + I * C;
  const double layer_small = (C + 2 * KV + C + I + C + 4 * C) * 4.0;
  const double weights = s.n_layer * (layer_params * weight_bytes + layer_small) +
                         static_cast<double>(s.vocab) * C * weight_bytes + 2 * C * 4.0;
  return weights + s.n_layer * kv_cache_read_bytes(kv_width, batch, context);
}

double kv_cache_read_bytes(int64_t kv_width, int64_t batch, int64_t context) {
  return 2.0 * static_cast<double>(batch) * static_cast<double>(context) * static_cast<double>(kv_width) * 4.0;
}

double bytes_per_token(const DecodeShape& s, int weight_bytes, int64_t batch, int64_t context) {
  return bytes_per_decode_step(s, weight_bytes, batch, context) / static_cast<double>(std::max<int64_t>(1, batch));
}

}  // namespace jitgen::runtime
