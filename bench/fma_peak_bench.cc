// The core's fp32 FMA peak, to read kernel GFLOP/s against (bench/results/avx2-proxy-zen4/README.md): C independent
// chains of vfmadd on 256-bit (ymm, the AVX2 target's width) and 512-bit (zmm) registers, one thread.
// Zen 4 has two 256-bit FMA pipes (a 512-bit FMA takes both), so both widths should peak at 32 flops a cycle; too
// few chains leave the 4-cycle FMA latency exposed, which is why the count is swept.
//   build/bench/fma_peak_bench
// Each line: width, chains, GFLOP/s (best of 5). x86-64 only (compiled per function with target attributes, so the
// binary still builds for the generic baseline); elsewhere it says so and exits.
#include <algorithm>
#include <cstdio>
#include <ctime>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace {

// Thread CPU time, not wall time: on a loaded machine the thread waits for a core, and that is not the core's rate.
double cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
constexpr long kIters = 20'000'000;

template <int C>
__attribute__((target("avx2,fma"))) float chains256() {
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_set1_ps(0.001f * static_cast<float>(c));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < kIters; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < C; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);  // unrolled: the chains stay in registers
  }
  __m256 s = acc[0];
  for (int c = 1; c < C; ++c) s = _mm256_add_ps(s, acc[c]);
  return _mm256_cvtss_f32(s);  // keeps the chains live
}

template <int C>
__attribute__((target("avx512f"))) float chains512() {
  __m512 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_set1_ps(0.001f * static_cast<float>(c));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < kIters; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < C; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);  // unrolled: the chains stay in registers
  }
  __m512 s = acc[0];
  for (int c = 1; c < C; ++c) s = _mm512_add_ps(s, acc[c]);
  return _mm512_cvtss_f32(s);
}

template <typename Fn>
double gflops(Fn fn, int lanes, int chains) {
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const double t0 = cpu_s();
    volatile float sink = fn();
    (void)sink;
    const double s = cpu_s() - t0;
    best = std::max(best, 2.0 * lanes * chains * static_cast<double>(kIters) / s / 1e9);
  }
  return best;
}

template <int C>
void row() {
  std::printf("ymm (avx2)    %2d chains %6.1f GFLOP/s\n", C, gflops(chains256<C>, 8, C));
  if (__builtin_cpu_supports("avx512f"))
    std::printf("zmm (avx512)  %2d chains %6.1f GFLOP/s\n", C, gflops(chains512<C>, 16, C));
}

}  // namespace

int main() {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    std::printf("fma_peak_bench: this CPU has no AVX2 + FMA\n");
    return 0;
  }
  row<4>();
  row<8>();
  row<12>();
  return 0;
}
#else
int main() {
  std::printf("fma_peak_bench: x86-64 only\n");
  return 0;
}
#endif
