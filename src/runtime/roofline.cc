#include "runtime/roofline.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define JITGEN_ROOFLINE_AVX2 1
#else
#define JITGEN_ROOFLINE_AVX2 0
#endif

#include "core/memory.h"
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
// S concurrent forward streams: stream s reads [a + s * len, a + (s + 1) * len), all advancing 64 bytes per step,
// so the core keeps S sequential runs in flight (len a multiple of 32 floats; a 64-byte aligned).
template <int S>
__attribute__((target("avx512f"))) float sum_streams_avx512(const float* a, int64_t len) {
  __m512 acc[S][2];
  for (int s = 0; s < S; ++s) acc[s][0] = acc[s][1] = _mm512_setzero_ps();
  for (int64_t i = 0; i < len; i += 32)
    for (int s = 0; s < S; ++s) {
      acc[s][0] = _mm512_add_ps(acc[s][0], _mm512_load_ps(a + s * len + i));
      acc[s][1] = _mm512_add_ps(acc[s][1], _mm512_load_ps(a + s * len + i + 16));
    }
  // Every accumulator goes into the result: one left out lets the compiler drop its loads, and the probe would
  // count bytes it never read (stream 0's second line, when this said `S == 1 ? acc[0][1] : 0`).
  __m512 total = _mm512_add_ps(acc[0][0], acc[0][1]);
  for (int s = 1; s < S; ++s) total = _mm512_add_ps(total, _mm512_add_ps(acc[s][0], acc[s][1]));
  alignas(64) float t[16];
  _mm512_store_ps(t, total);
  float r = 0;
  for (float v : t) r += v;
  return r;
}
template <int S>
__attribute__((target("avx2"))) float sum_streams_avx2(const float* a, int64_t len) {
  __m256 acc[S][2];
  for (int s = 0; s < S; ++s) acc[s][0] = acc[s][1] = _mm256_setzero_ps();
  for (int64_t i = 0; i < len; i += 16)
    for (int s = 0; s < S; ++s) {
      acc[s][0] = _mm256_add_ps(acc[s][0], _mm256_load_ps(a + s * len + i));
      acc[s][1] = _mm256_add_ps(acc[s][1], _mm256_load_ps(a + s * len + i + 8));
    }
  __m256 total = _mm256_add_ps(acc[0][0], acc[0][1]);  // every accumulator: see sum_streams_avx512
  for (int s = 1; s < S; ++s) total = _mm256_add_ps(total, _mm256_add_ps(acc[s][0], acc[s][1]));
  alignas(32) float t[8];
  _mm256_store_ps(t, total);
  float r = 0;
  for (float v : t) r += v;
  return r;
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

template <int S>
float sum_streams_plain(const float* a, int64_t len) {
  float acc[S] = {};
  for (int64_t i = 0; i < len; ++i)
    for (int s = 0; s < S; ++s) acc[s] += a[s * len + i];
  float r = 0;
  for (float v : acc) r += v;
  return r;
}

enum class ReadIsa { kPlain, kAvx2, kAvx512 };
ReadIsa read_isa() {
#if JITGEN_ROOFLINE_AVX2
  if (__builtin_cpu_supports("avx512f")) return ReadIsa::kAvx512;
  if (__builtin_cpu_supports("avx2")) return ReadIsa::kAvx2;
#endif
  return ReadIsa::kPlain;
}

template <int S>
float sum_streams(ReadIsa isa, const float* a, int64_t len) {
#if JITGEN_ROOFLINE_AVX2
  if (isa == ReadIsa::kAvx512) return sum_streams_avx512<S>(a, len);
  if (isa == ReadIsa::kAvx2) return sum_streams_avx2<S>(a, len);
#endif
  (void)isa;
  return sum_streams_plain<S>(a, len);
}

constexpr int kStreamCounts[] = {1, 2, 4, 8};

float sum_streams(ReadIsa isa, int streams, const float* a, int64_t len) {
  switch (streams) {
    case 1: return sum_streams<1>(isa, a, len);
    case 2: return sum_streams<2>(isa, a, len);
    case 4: return sum_streams<4>(isa, a, len);
    default: return sum_streams<8>(isa, a, len);
  }
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

int64_t last_level_cache_bytes() {
  long bytes = sysconf(_SC_LEVEL3_CACHE_SIZE);  // glibc reads CPUID / sysfs; 0 or -1 where it cannot tell
  if (bytes <= 0) bytes = sysconf(_SC_LEVEL2_CACHE_SIZE);
  return std::max<int64_t>(0, bytes);
}

int64_t default_probe_bytes() {
  constexpr int64_t kMin = int64_t{256} << 20;
  int64_t bytes = std::max(kMin, 4 * last_level_cache_bytes());
  // Never more than an eighth of the memory (three triad arrays of half this size are live with it).
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) bytes = std::min(bytes, std::max(kMin, int64_t{pages} * page / 8));
  return bytes;
}

Bandwidth measure_bandwidth(int repeats, int64_t read_bytes) {
  if (read_bytes <= 0) read_bytes = default_probe_bytes();
  // Whole 2 MiB blocks (huge pages; also every thread's slice a whole number of 128-byte steps of 8 streams).
  read_bytes = std::max<int64_t>(int64_t{2} << 20, read_bytes / (int64_t{2} << 20) * (int64_t{2} << 20));
  const int64_t n = read_bytes / 2 / static_cast<int64_t>(sizeof(float));  // per triad / heap array: half of it
  const int64_t grain = 4096;
  Buffer a = alloc(n), b = alloc(n), c = alloc(n);
  const bool avx2 = cpu_has_avx2();
  // First touch from the pool, so pages land where the threads that stream them run.
  parallel_for(n, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) a[i] = 0, b[i] = 1, c[i] = 2;
  });
  // The read ceiling's buffer (roofline.h): on huge pages, written first -- a never-written anonymous page reads as
  // the kernel's shared zero page, from cache, and would overstate the bandwidth.
  const int64_t rn = read_bytes / static_cast<int64_t>(sizeof(float));
  const std::shared_ptr<void> rbuf = zeroed_buffer(static_cast<size_t>(rn) * sizeof(float));
  float* r = static_cast<float*>(rbuf.get());
  parallel_for(rn, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) r[i] = 1;
  });
  const int T = std::max(1, num_threads());
  const int64_t slice = rn / T / (8 * 32) * (8 * 32);  // per thread: whole 128-byte steps of every stream count
  const ReadIsa isa = read_isa();
  Bandwidth bw;
  std::vector<float> sink(64);
  for (int rep = 0; rep < std::max(1, repeats); ++rep) {
    auto t0 = Clock::now();
    parallel_for(n, grain, [&](int64_t lo, int64_t hi) {
      triad(avx2, a.get(), b.get(), c.get(), 3.0f, lo, hi);
    });
    store_fence();
    bw.triad_gbps = std::max(bw.triad_gbps, 3.0 * n * sizeof(float) / seconds_since(t0) / 1e9);
    t0 = Clock::now();
    parallel_for(n, grain, [&](int64_t lo, int64_t hi) {
      const float s = sum(avx2, b.get(), lo, hi);
      sink[(lo / grain) % 64] += s;
    });
    bw.read_heap_gbps = std::max(bw.read_heap_gbps, 1.0 * n * sizeof(float) / seconds_since(t0) / 1e9);
    for (int si = 0; si < 4; ++si) {
      const int streams = kStreamCounts[si];
      t0 = Clock::now();
      const double c0 = process_cpu_s();
      parallel_for(T, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t t = lo; t < hi; ++t) sink[t % 64] += sum_streams(isa, streams, r + t * slice, slice / streams);
      });
      const double bytes = static_cast<double>(slice) * T * sizeof(float);
      const double gbps = bytes / seconds_since(t0) / 1e9;
      const double cpu_per_thread = (process_cpu_s() - c0) / T;
      bw.read_gbps_by_streams[si] = std::max(bw.read_gbps_by_streams[si], gbps);
      if (gbps > bw.read_gbps) bw.read_gbps = gbps, bw.read_streams = streams;
      if (cpu_per_thread > 0) bw.read_cpu_gbps = std::max(bw.read_cpu_gbps, bytes / cpu_per_thread / 1e9);
    }
  }
  bw.read_buffer_bytes = read_bytes;
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
