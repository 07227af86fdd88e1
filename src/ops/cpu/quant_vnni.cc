// Quantized panels with AVX-512 VNNI: vpdpbusd multiplies 4 unsigned weight codes by 4 signed activations per
// int32 lane (one lane per column) and accumulates exactly; one group's int32 sums are corrected for the zero
// point, converted and scaled into fp32 accumulators. int4 codes are unpacked in registers (AND / shift + AND).
// Only this file's functions use AVX-512 instructions (target attributes); the dispatcher checks cpuid first.
// GCC 12 warns that the _mm*_undefined_* operand inside cvtph2ps / cvtdq2ps / slli / the reduce helpers is "(maybe)
// used uninitialized" once they are inlined here (GCC bug 105593, fixed in GCC 13); that operand is undefined by design.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/cpu/panel_streams.h"
#include "ops/cpu/quant_avx512_parts.h"
#include "ops/cpu/quant_kernels.h"
#include "ops/cpu_kernels.h"


namespace jitgen::cpu::quant {

// TileSink::store with AVX-512 where no activation runs in between (an activation goes through the sink):
// (tile + bias) + residual per column, the same two IEEE additions as the scalar store (a missing bias or residual
// adds 0.0f there too, so the results are bit-identical), masked for a partial last panel. The scalar store was 3% of
// an int4 SmolLM2 decode step (branches per column for the optional operands and the tail).
JITGEN_VNNI void store_tile_avx512(const TileSink& sink, const float* tile, int64_t m0, int mr, int64_t p) {
  if (sink.epilogue && sink.epilogue->has_act) return sink.store(tile, m0, mr, p);
  const int64_t n0 = p * 32, nc = std::min<int64_t>(32, sink.N - n0);
  const auto k0 = static_cast<__mmask16>(nc >= 16 ? 0xFFFF : (1u << nc) - 1);
  const auto k1 = static_cast<__mmask16>(nc >= 32 ? 0xFFFF : nc <= 16 ? 0 : (1u << (nc - 16)) - 1);
  const __m512 zero = _mm512_setzero_ps();
  const __m512 b0 = sink.bias ? _mm512_maskz_loadu_ps(k0, sink.bias + n0) : zero;
  const __m512 b1 = sink.bias ? _mm512_maskz_loadu_ps(k1, sink.bias + n0 + 16) : zero;
  const float* res = sink.epilogue ? sink.epilogue->residual : nullptr;  // may alias y: read before the store
  for (int r = 0; r < mr; ++r) {
    const int64_t row = (m0 + r) * sink.N + n0;
    __m512 v0 = _mm512_add_ps(_mm512_load_ps(tile + r * 32), b0);
    __m512 v1 = _mm512_add_ps(_mm512_load_ps(tile + r * 32 + 16), b1);
    v0 = _mm512_add_ps(v0, res ? _mm512_maskz_loadu_ps(k0, res + row) : zero);
    v1 = _mm512_add_ps(v1, res ? _mm512_maskz_loadu_ps(k1, res + row + 16) : zero);
    _mm512_mask_storeu_ps(sink.y + row, k0, v0);
    _mm512_mask_storeu_ps(sink.y + row + 16, k1, v1);
  }
}

namespace {

// A decode row (M = 1) reads kRowStreams panels of its thread's range side by side and prefetches this far ahead in
// each block stream (tile_streams), as the AVX2 path does (quant_avx2_parts.h). On a 2-core Intel Xeon VM (480 MiB
// L3, AVX-512 VNNI + AMX), quant_bench 1 2 tinyllama-1.1b M = 1 (weights well past the L3), thread CPU time, against
// the read probe: one panel at a time 81.3-81.6 ms int8 (83%), 40.1-41.0 int4 (87-89%); 2 streams + prefetch 1 KiB /
// 2 KiB 68.4-69.5 (98%) and 36.8 (97-98%); 2 streams without prefetch 13.7-14.2 GB/s int8 (no better than one); 3
// streams 95-96%; 2 streams at twice the distance no better. Bench: bench/results/quant/xeon-vnni-row-streams/.
constexpr int kRowStreams = 2;
constexpr int64_t kPrefetch8 = 1024, kPrefetch4 = 2048;
// Quads of a long group (one per output channel) a decode stream reads before the next stream's turn (as on avx2).
constexpr int64_t kStreamQuads = 8;

JITGEN_VNNI inline __m512i broadcast4(const int8_t* x) {
  int32_t v;
  std::memcpy(&v, x, 4);
  return _mm512_set1_epi32(v);
}

// f += scale * (d - zero * qsum) for rows [0, MR) of group g (block: its codes; qsum: row 0's group sums, rows
// `groups` apart); without zero points d already holds the corrected sums (tile).
template <int MR, bool kZp>
JITGEN_VNNI inline void add_group(const QuantLinear& w, const uint8_t* block, const int32_t* qsum, int64_t groups,
                                  int64_t g, __m512i d0[MR], __m512i d1[MR], __m512 f0[MR], __m512 f1[MR]) {
  const size_t per_group = w.code_bytes_per_group();
  const auto* sc = reinterpret_cast<const uint16_t*>(block + per_group);
  const __m512 s0 = load_scales(sc, w.spec.scale_f16), s1 = load_scales(sc + 16, w.spec.scale_f16);
  if constexpr (kZp) {
    const uint8_t* zp = block + per_group + 64;
    const __m512i z0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zp)));
    const __m512i z1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zp + 16)));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512i qv = _mm512_set1_epi32(qsum[r * groups + g]);
      d0[r] = _mm512_sub_epi32(d0[r], _mm512_mullo_epi32(z0, qv));
      d1[r] = _mm512_sub_epi32(d1[r], _mm512_mullo_epi32(z1, qv));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    f0[r] = _mm512_fmadd_ps(s0, _mm512_cvtepi32_ps(d0[r]), f0[r]);
    f1[r] = _mm512_fmadd_ps(s1, _mm512_cvtepi32_ps(d1[r]), f1[r]);
  }
}

// The starting int32 sums of group g: -z * sum(q) of each row for the symmetric formats, 0 with zero points.
template <int MR, int kBits, bool kZp>
JITGEN_VNNI inline void start_group(const int32_t* qsum, int64_t groups, int64_t g, __m512i d0[MR], __m512i d1[MR]) {
  constexpr int32_t zc = kBits == 8 ? 128 : 8;
  for (int r = 0; r < MR; ++r) {
    d0[r] = kZp ? _mm512_setzero_si512() : _mm512_set1_epi32(-zc * qsum[r * groups + g]);
    d1[r] = d0[r];
  }
}

// The two column registers (columns 0-15, 16-31) of quad q of a group's codes; int4 unpacked.
template <int kBits>
JITGEN_VNNI inline void load_quad(const uint8_t* block, int64_t q, __m512i& w0, __m512i& w1) {
  if constexpr (kBits == 8) {
    w0 = _mm512_load_si512(block + q * 128);
    w1 = _mm512_load_si512(block + q * 128 + 64);
  } else {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i v = _mm512_load_si512(block + q * 64);
    w0 = _mm512_and_si512(v, low4);
    w1 = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
  }
}

// One MR x 32 tile over every group of panel p. kQuads is G / 4 when the group size is known at compile time (32 or
// 128: the quad loop unrolls fully, so every accumulator array index is a constant and the accumulators stay in
// registers; a runtime index, or arrays the compiler cannot resolve, put them on the stack or add register copies
// around each vpdpbusd), 0 for per-channel groups (quads = w.G / 4 at run time). Without zero points the int32
// sums start at -z * sum(q) instead of 0, which saves the subtraction per group; the next group's chains are
// independent of this one's, so out-of-order execution overlaps them (no split accumulators needed at MR = 1).
template <int MR, int kBits, bool kZp, int kQuads>
JITGEN_VNNI void tile(const QuantActs& a, const QuantLinear& w, int64_t p, int64_t m0, float* out) {
  const int64_t quads = kQuads > 0 ? kQuads : w.G / 4;
  const size_t stride = w.block_bytes();  // codes, then scales (64 bytes), then zero points (64 bytes): ops/quant.h
  const uint8_t* block = w.group_codes(p, 0);
  const int8_t* xq = a.q.data() + m0 * a.Kp;
  const int32_t* qsum = a.qsum.data() + m0 * a.groups;
  __m512 f0[MR], f1[MR];  // fp32 sums over the groups: columns 0-15, 16-31
  for (int r = 0; r < MR; ++r) f0[r] = f1[r] = _mm512_setzero_ps();
  for (int64_t g = 0; g < w.groups; ++g, block += stride, xq += w.G) {
    __m512i d0[MR], d1[MR];  // exact int32 sums of the group
    start_group<MR, kBits, kZp>(qsum, a.groups, g, d0, d1);
#pragma GCC unroll 32
    for (int64_t q = 0; q < quads; ++q) {
      __m512i w0, w1;
      load_quad<kBits>(block, q, w0, w1);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const __m512i xb = broadcast4(xq + r * a.Kp + 4 * q);
        d0[r] = _mm512_dpbusd_epi32(d0[r], w0, xb);
        d1[r] = _mm512_dpbusd_epi32(d1[r], w1, xb);
      }
    }
    add_group<MR, kZp>(w, block, qsum, a.groups, g, d0, d1, f0, f1);
  }
  for (int r = 0; r < MR; ++r) {
    const __m512 sx = _mm512_set1_ps(a.sx[m0 + r]);
    _mm512_storeu_ps(out + r * 32, _mm512_mul_ps(f0[r], sx));
    _mm512_storeu_ps(out + r * 32 + 16, _mm512_mul_ps(f1[r], sx));
  }
}

// Quads [q0, q1) of one group of one row (xq: the group's first activation) into d0 / d1, prefetching kAhead bytes
// ahead in the block stream (0: none).
template <int kBits, int64_t kAhead>
JITGEN_VNNI inline void row_quads(const uint8_t* block, const int8_t* xq, int64_t q0, int64_t q1, __m512i& d0,
                                  __m512i& d1) {
  constexpr int64_t kQuadBytes = kBits == 8 ? 128 : 64;
#pragma GCC unroll 32
  for (int64_t q = q0; q < q1; ++q) {
    if constexpr (kAhead > 0) {
      _mm_prefetch(reinterpret_cast<const char*>(block + kAhead + q * kQuadBytes), _MM_HINT_T0);
      if constexpr (kBits == 8) _mm_prefetch(reinterpret_cast<const char*>(block + kAhead + q * kQuadBytes + 64), _MM_HINT_T0);
    }
    __m512i w0, w1;
    load_quad<kBits>(block, q, w0, w1);
    const __m512i xb = broadcast4(xq + 4 * q);
    d0 = _mm512_dpbusd_epi32(d0, w0, xb);
    d1 = _mm512_dpbusd_epi32(d1, w1, xb);
  }
}

// Batch 1 (decode): S panels of the one row, group by group in turn, so S streams of codes are read at once, each
// prefetched kAhead bytes ahead (cpu/panel_streams.h; quant_avx2.cc has the same for AVX2). Each panel's arithmetic
// is tile<1>'s, so the outputs are bit-identical to it. out: [S][32].
template <int S, int kBits, bool kZp, int kQuads, int64_t kAhead>
JITGEN_VNNI void tile_streams(const QuantActs& a, const QuantLinear& w, const int64_t* ps, float* out) {
  const int64_t quads = kQuads > 0 ? kQuads : w.G / 4;
  const int8_t* xq = a.q.data();
  __m512 f0[S], f1[S];
  for (int s = 0; s < S; ++s) f0[s] = f1[s] = _mm512_setzero_ps();
  for (int64_t g = 0; g < w.groups; ++g, xq += w.G) {
    __m512i d0[S], d1[S];
    for (int s = 0; s < S; ++s) start_group<1, kBits, kZp>(a.qsum.data(), a.groups, g, &d0[s], &d1[s]);
    if constexpr (kQuads > 0) {  // groups of 32 / 128: the streams take turns group by group
      for (int s = 0; s < S; ++s) row_quads<kBits, kAhead>(w.group_codes(ps[s], g), xq, 0, quads, d0[s], d1[s]);
    } else {  // one group per output channel: turns every kStreamQuads quads, or one stream would read its whole panel first
      for (int64_t q0 = 0; q0 < quads; q0 += kStreamQuads)
        for (int s = 0; s < S; ++s)
          row_quads<kBits, kAhead>(w.group_codes(ps[s], g), xq, q0, std::min(quads, q0 + kStreamQuads), d0[s], d1[s]);
    }
    for (int s = 0; s < S; ++s)
      add_group<1, kZp>(w, w.group_codes(ps[s], g), a.qsum.data(), a.groups, g, &d0[s], &d1[s], &f0[s], &f1[s]);
  }
  const __m512 sx = _mm512_set1_ps(a.sx[0]);
  for (int s = 0; s < S; ++s) {
    _mm512_storeu_ps(out + s * 32, _mm512_mul_ps(f0[s], sx));
    _mm512_storeu_ps(out + s * 32 + 16, _mm512_mul_ps(f1[s], sx));
  }
}

template <int S, int kBits, bool kZp, int kQuads, int64_t kAhead>
void run_row(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  alignas(64) float buf[S * 32];
  for_each_stream_group<S>(p0, p1, [&](const int64_t* ps, int live) {
    if (live == S)
      tile_streams<S, kBits, kZp, kQuads, kAhead>(a, w, ps, buf);
    else  // the last stream's tail: the same arithmetic one panel at a time
      for (int s = 0; s < live; ++s) tile<1, kBits, kZp, kQuads>(a, w, ps[s], 0, buf + s * 32);
    for (int s = 0; s < live; ++s) store_tile_avx512(sink, buf + s * 32, 0, 1, ps[s]);
  });
}

// Rows [m_begin, M) of panel p in tiles of up to kTileRows rows.
template <int kBits, bool kZp, int kQuads>
void panel_rows(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p, int64_t m_begin) {
  alignas(64) float buf[kTileRows * 32];
  for (int64_t m0 = m_begin; m0 < a.M; m0 += kTileRows) {
    const int mr = static_cast<int>(std::min<int64_t>(kTileRows, a.M - m0));
    switch (mr) {
      case 1: tile<1, kBits, kZp, kQuads>(a, w, p, m0, buf); break;
      case 2: tile<2, kBits, kZp, kQuads>(a, w, p, m0, buf); break;
      case 3: tile<3, kBits, kZp, kQuads>(a, w, p, m0, buf); break;
      default: tile<4, kBits, kZp, kQuads>(a, w, p, m0, buf); break;
    }
    store_tile_avx512(sink, buf, m0, mr, p);
  }
}

template <int kBits, bool kZp, int kQuads>
void run(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  if (a.M == 1) return run_row<kRowStreams, kBits, kZp, kQuads, kBits == 8 ? kPrefetch8 : kPrefetch4>(a, w, sink, p0, p1);
  for (int64_t p = p0; p < p1; ++p) panel_rows<kBits, kZp, kQuads>(a, w, sink, p, 0);
}

template <int kBits, bool kZp>
void run_group(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  if (w.G == 32) return run<kBits, kZp, 8>(a, w, sink, p0, p1);
  if (w.G == 128) return run<kBits, kZp, 32>(a, w, sink, p0, p1);
  run<kBits, kZp, 0>(a, w, sink, p0, p1);
}

template <int kBits, bool kZp>
void panel_rows_group(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p, int64_t m_begin) {
  if (w.G == 32) return panel_rows<kBits, kZp, 8>(a, w, sink, p, m_begin);
  if (w.G == 128) return panel_rows<kBits, kZp, 32>(a, w, sink, p, m_begin);
  panel_rows<kBits, kZp, 0>(a, w, sink, p, m_begin);
}

}  // namespace

JITGEN_VNNI void quantize_row_avx512(const float* x, int64_t K, int64_t G, int8_t* q, int32_t* qsum, float* sx) {
  __m512 amax = _mm512_setzero_ps(), poison = _mm512_setzero_ps();  // poison: NaN if any x is NaN or Inf
  for (int64_t k = 0; k < K; k += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(static_cast<__mmask16>(K - k >= 16 ? 0xFFFF : (1u << (K - k)) - 1), x + k);
    amax = _mm512_max_ps(amax, _mm512_abs_ps(v));
    poison = _mm512_add_ps(poison, _mm512_mul_ps(v, _mm512_setzero_ps()));
  }
  if (std::isnan(_mm512_reduce_add_ps(poison))) {
    *sx = std::nanf("");
    return;
  }
  const float m = _mm512_reduce_max_ps(amax);
  *sx = m / 127.0f;
  if (*sx == 0.0f) return;
  const __m512 inv = _mm512_set1_ps(1.0f / *sx);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  // Group by group (G % 16 == 0, or one group), so no 16 lanes straddle two groups; a group's q add up per lane, one
  // horizontal sum per group (a `% G` test per 16 lanes cost an integer division each).
  for (int64_t g0 = 0, g = 0; g0 < K; g0 += G, ++g) {
    const int64_t g1 = std::min(K, g0 + G);
    __m512i gsum = _mm512_setzero_si512();
    for (int64_t k = g0; k < g1; k += 16) {
      const __mmask16 mk = static_cast<__mmask16>(K - k >= 16 ? 0xFFFF : (1u << (K - k)) - 1);
      // cvtps rounds to nearest even (the default MXCSR mode), as std::nearbyint does in the scalar code.
      __m512i i = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + k), inv));
      i = _mm512_max_epi32(lo, _mm512_min_epi32(hi, i));
      _mm512_mask_cvtepi32_storeu_epi8(q + k, mk, i);
      gsum = _mm512_add_epi32(gsum, _mm512_maskz_mov_epi32(mk, i));
    }
    qsum[g] += _mm512_reduce_add_epi32(gsum);
  }
}

void panel_rows_vnni(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p, int64_t m_begin) {
  if (w.spec.bits == 8) return panel_rows_group<8, false>(a, w, sink, p, m_begin);
  if (w.has_zeros()) return panel_rows_group<4, true>(a, w, sink, p, m_begin);
  panel_rows_group<4, false>(a, w, sink, p, m_begin);
}

void panels_vnni(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  if (w.spec.bits == 8) return run_group<8, false>(a, w, sink, p0, p1);
  if (w.has_zeros()) return run_group<4, true>(a, w, sink, p0, p1);
  run_group<4, false>(a, w, sink, p0, p1);
}

}  // namespace jitgen::cpu::quant
