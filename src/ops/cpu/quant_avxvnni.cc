// Quantized panels with AVX-VNNI: the VEX-encoded 256-bit vpdpbusd of CPUs that have it without AVX-512 (Intel's
// client cores since Alder Lake, Zen 5 client parts). The VNNI layout of ops/quant.h read 32 bytes at a time: one
// int32 lane per column, each the exact dot of 4 unsigned codes with 4 signed activations, so a product step is one
// instruction where the AVX2 path (quant_avx2.cc) needs vpsignb + vpmaddubsw + vpmaddwd + vpaddd (int8), or
// vpmaddubsw + vpaddw plus a vpmaddwd every 8 quads (int4). The int32 sums start at -z * sum(q) (symmetric formats)
// or have z * sum(q) taken off per group (zero points), as in quant_vnni.cc; the fp32 steps per group are the AVX2
// path's (cvt, one FMA with the scale, times sx at the end) and the integer sums are exact, so the outputs are
// bit-identical to the AVX2 path's. Target attributes per function; the dispatcher checks cpuid.
#include <immintrin.h>

#include <algorithm>

#include "ops/cpu/panel_streams.h"
#include "ops/cpu/quant_avx2_parts.h"
#include "ops/cpu/quant_kernels.h"

#define JITGEN_AVXVNNI __attribute__((target("avx2,fma,f16c,avxvnni")))

namespace jitgen::cpu::quant {

namespace avxvnni {
namespace {

using avx2::broadcast4;
using avx2::kPrefetch4;
using avx2::kPrefetch8;
using avx2::kStreamQuads;
using avx2::kStreams;
using avx2::load_quad;
using avx2::load_scales;

// Rows per tile: 3 rows x 4 column registers of int32 sums, the 3 rows' broadcasts and one weight register at a
// time fill the 16 ymm registers (the fp32 sums, touched once per group, live in L1). vpdpbusd has a latency of
// several cycles and each sum is a chain, so 12 chains keep the multiplier busier than 2 rows' 8: quant_bench 1 1
// smollm2-135m (JITGEN_SIMD=avx2) on a Xeon with AVX-VNNI, 2 vs 3 rows alternating, twice: M = 8 int8 16.0 -> 14.2 ms,
// int4 11.6 -> 10.8; M = 32 int8 38.6 -> 35.2, int4 36.0 -> 34.4; int8-ch (no groups) M = 32 33.9 -> 29.3.
constexpr int kRows = 3;
static_assert(kRows <= kTileRows, "TileSink::store holds kTileRows rows");

// Column register v of quad q (load_quad's wv[v] alone).
template <int kBits>
JITGEN_AVXVNNI inline __m256i load_col(const uint8_t* block, int64_t q, int v) {
  if constexpr (kBits == 8) return _mm256_load_si256(reinterpret_cast<const __m256i*>(block + q * 128 + v * 32));
  const __m256i b = _mm256_load_si256(reinterpret_cast<const __m256i*>(block + q * 64 + (v & 1) * 32));
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  return _mm256_and_si256(v < 2 ? b : _mm256_srli_epi16(b, 4), low4);
}

// acc[r][v] += the exact int32 dots of quads [q_begin, q_end) of one group (block: its codes) with MR rows of
// activations (xq: the group's first byte of row 0, rows Kp apart), columns 8v .. 8v + 7. Up to 2 rows hold a quad's
// 4 weight registers; 3 rows hold their 3 broadcasts and take the weight registers one at a time (kRows).
template <int MR, int kBits>
JITGEN_AVXVNNI inline void add_quad_dots(const uint8_t* block, const int8_t* xq, int64_t Kp, int64_t q_begin,
                                         int64_t q_end, __m256i acc[MR][4]) {
  constexpr int64_t kQuadBytes = kBits == 8 ? 128 : 64;
  constexpr int64_t kAhead = kBits == 8 ? kPrefetch8 : kPrefetch4;
#pragma GCC unroll 32
  for (int64_t q = q_begin; q < q_end; ++q) {
    if constexpr (MR == 1) {
      _mm_prefetch(reinterpret_cast<const char*>(block + kAhead + q * kQuadBytes), _MM_HINT_T0);
      if constexpr (kBits == 8) _mm_prefetch(reinterpret_cast<const char*>(block + kAhead + q * kQuadBytes + 64), _MM_HINT_T0);
    }
    if constexpr (MR <= 2) {
      __m256i wv[4];
      load_quad<kBits, false>(block, q, wv);
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) {
        const __m256i xb = broadcast4(xq + r * Kp + 4 * q);
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v) acc[r][v] = _mm256_dpbusd_avx_epi32(acc[r][v], wv[v], xb);
      }
    } else {
      __m256i xb[MR];
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) xb[r] = broadcast4(xq + r * Kp + 4 * q);
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) {
        const __m256i wv = load_col<kBits>(block, q, v);
#pragma GCC unroll 4
        for (int r = 0; r < MR; ++r) acc[r][v] = _mm256_dpbusd_avx_epi32(acc[r][v], wv, xb[r]);
      }
    }
  }
}

// The starting int32 sums of group g: -z * sum(q) of each row for the symmetric formats (z = 128 for int8, 8 for
// int4), so the group's sums come out already corrected; 0 with zero points (corrected in add_group).
template <int MR, int kBits, bool kZp>
JITGEN_AVXVNNI inline void start_group(const int32_t* qsum, int64_t groups, int64_t g, __m256i acc[MR][4]) {
  constexpr int32_t zc = kBits == 8 ? 128 : 8;
  for (int r = 0; r < MR; ++r) {
    const __m256i s = kZp ? _mm256_setzero_si256() : _mm256_set1_epi32(-zc * qsum[r * groups + g]);
    for (int v = 0; v < 4; ++v) acc[r][v] = s;
  }
}

// facc[r][v] += scale * (acc[r][v] - zero * qsum) for group g (block: its codes; qsum: row 0's group sums, rows
// `groups` apart); without zero points acc already holds the corrected sum.
template <int MR, bool kZp>
JITGEN_AVXVNNI inline void add_group(const QuantLinear& w, const uint8_t* block, const int32_t* qsum, int64_t groups,
                                     int64_t g, const __m256i acc[MR][4], __m256 facc[MR][4]) {
  const size_t per_group = w.code_bytes_per_group();
  const auto* sc = reinterpret_cast<const uint16_t*>(block + per_group);
  for (int v = 0; v < 4; ++v) {
    const __m256 s = load_scales(sc + 8 * v, w.spec.scale_f16);
    __m256i z = _mm256_setzero_si256();
    if constexpr (kZp)
      z = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + per_group + 64 + 8 * v)));
    for (int r = 0; r < MR; ++r) {
      __m256i d = acc[r][v];
      if constexpr (kZp) d = _mm256_sub_epi32(d, _mm256_mullo_epi32(z, _mm256_set1_epi32(qsum[r * groups + g])));
      facc[r][v] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(d), facc[r][v]);
    }
  }
}

// One MR x 32 tile over every group of panel p, into out [MR][32]. kQuads = G / 4 when the group size is known at
// compile time (32 or 128: the quad loop unrolls and every accumulator index is a constant), 0 otherwise.
template <int MR, int kBits, bool kZp, int kQuads>
JITGEN_AVXVNNI void tile(const QuantActs& a, const QuantLinear& w, int64_t p, int64_t m0, float* out) {
  const int64_t quads = kQuads > 0 ? kQuads : w.G / 4;
  const size_t stride = w.block_bytes();
  const uint8_t* block = w.group_codes(p, 0);
  const int8_t* xq = a.q.data() + m0 * a.Kp;
  const int32_t* qsum = a.qsum.data() + m0 * a.groups;
  __m256 facc[MR][4];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < 4; ++v) facc[r][v] = _mm256_setzero_ps();
  for (int64_t g = 0; g < w.groups; ++g, block += stride, xq += w.G) {
    __m256i acc[MR][4];
    start_group<MR, kBits, kZp>(qsum, a.groups, g, acc);
    add_quad_dots<MR, kBits>(block, xq, a.Kp, 0, quads, acc);
    add_group<MR, kZp>(w, block, qsum, a.groups, g, acc, facc);
  }
  for (int r = 0; r < MR; ++r) {
    const __m256 sx = _mm256_set1_ps(a.sx[m0 + r]);
    for (int v = 0; v < 4; ++v) _mm256_store_ps(out + r * 32 + 8 * v, _mm256_mul_ps(facc[r][v], sx));
  }
}

// Batch 1 (decode): S panels of one row, group by group in turn (quant_avx2.cc tile_streams has why); each panel's
// arithmetic is tile<1>'s, so the outputs are bit-identical to it. out: [S][32].
template <int S, int kBits, bool kZp, int kQuads>
JITGEN_AVXVNNI void tile_streams(const QuantActs& a, const QuantLinear& w, const int64_t* ps, float* out) {
  const int64_t quads = kQuads > 0 ? kQuads : w.G / 4;
  const int8_t* xq = a.q.data();
  __m256 facc[S][1][4];
  for (int s = 0; s < S; ++s)
    for (int v = 0; v < 4; ++v) facc[s][0][v] = _mm256_setzero_ps();
  for (int64_t g = 0; g < w.groups; ++g, xq += w.G) {
    __m256i acc[S][1][4];
    for (int s = 0; s < S; ++s) start_group<1, kBits, kZp>(a.qsum.data(), a.groups, g, acc[s]);
    if constexpr (kQuads > 0) {  // groups of 32 / 128: the streams take turns group by group
      for (int s = 0; s < S; ++s) add_quad_dots<1, kBits>(w.group_codes(ps[s], g), xq, a.Kp, 0, quads, acc[s]);
    } else {  // one group per output channel: turns every kStreamQuads quads
      for (int64_t q0 = 0; q0 < quads; q0 += kStreamQuads)
        for (int s = 0; s < S; ++s)
          add_quad_dots<1, kBits>(w.group_codes(ps[s], g), xq, a.Kp, q0, std::min(quads, q0 + kStreamQuads), acc[s]);
    }
    for (int s = 0; s < S; ++s)
      add_group<1, kZp>(w, w.group_codes(ps[s], g), a.qsum.data(), a.groups, g, acc[s], facc[s]);
  }
  const __m256 sx = _mm256_set1_ps(a.sx[0]);
  for (int s = 0; s < S; ++s)
    for (int v = 0; v < 4; ++v) _mm256_store_ps(out + s * 32 + 8 * v, _mm256_mul_ps(facc[s][0][v], sx));
}

template <int kBits, bool kZp, int kQuads>
void run(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  alignas(32) float buf[std::max(kRows, kStreams) * 32];
  if (a.M == 1) {
    for_each_stream_group<kStreams>(p0, p1, [&](const int64_t* ps, int live) {
      if (live == kStreams)
        tile_streams<kStreams, kBits, kZp, kQuads>(a, w, ps, buf);
      else  // the last stream's tail: the same arithmetic one panel at a time
        for (int s = 0; s < live; ++s) tile<1, kBits, kZp, kQuads>(a, w, ps[s], 0, buf + s * 32);
      for (int s = 0; s < live; ++s) avx2::store_tile(sink, buf + s * 32, 0, 1, ps[s]);
    });
    return;
  }
  for (int64_t p = p0; p < p1; ++p)
    for (int64_t m0 = 0, mr; m0 < a.M; m0 += mr) {
      mr = a.M - m0 == 4 ? 2 : std::min<int64_t>(kRows, a.M - m0);  // 4 rows left: 2 + 2, not 3 + 1
      if (mr == 3)
        tile<3, kBits, kZp, kQuads>(a, w, p, m0, buf);
      else if (mr == 2)
        tile<2, kBits, kZp, kQuads>(a, w, p, m0, buf);
      else
        tile<1, kBits, kZp, kQuads>(a, w, p, m0, buf);
      avx2::store_tile(sink, buf, m0, static_cast<int>(mr), p);
    }
}

template <int kBits, bool kZp>
void run_group(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  if (w.G == 32) return run<kBits, kZp, 8>(a, w, sink, p0, p1);
  if (w.G == 128) return run<kBits, kZp, 32>(a, w, sink, p0, p1);
  run<kBits, kZp, 0>(a, w, sink, p0, p1);
}

}  // namespace
}  // namespace avxvnni

void panels_avxvnni(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  if (w.spec.bits == 8) return avxvnni::run_group<8, false>(a, w, sink, p0, p1);
  if (w.has_zeros()) return avxvnni::run_group<4, true>(a, w, sink, p0, p1);
  avxvnni::run_group<4, false>(a, w, sink, p0, p1);
}

}  // namespace jitgen::cpu::quant
