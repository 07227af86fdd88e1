// Quantized panels with AVX2 (CPUs without AVX-512 VNNI or AVX-VNNI). vpmaddubsw multiplies unsigned by signed bytes into
// saturating int16 pairs, so the operands must keep each pair below 2^15. vpmaddwd with ones widens the pairs to
// int32 lanes of 4 products, one lane per column (the VNNI layout read 32 bytes at a time: 8 columns per register).
// Target attributes per function; the dispatcher checks cpuid.
//
// int8: the codes turn back into signed weights w = u - 128 (one XOR), and each product is |q| * (sign(q) w): |q|
// is computed once per broadcast of 4 activations and shared by the 4 column registers, so a weight register costs
// one vpsignb per row (multiplying |w| by sign(w) q costs an abs per weight register and the sign per row). The
// pairs stay below 2 * 127 * 127 because quantize() clamps w to [-127, 127] (u >= 1): vpsignb cannot negate -128.
// int4: codes u <= 15 multiply the activations as they are; a pair is at most 2 * 15 * 127 = 3810, so up to 8 quads
// of pairs add up exactly in int16 (30480 < 2^15) before one vpmaddwd widens them: half the multiplies of widening
// every quad, and the multiplier ports are what an M > 1 tile runs out of.
// Every integer sum is exact and the fp32 steps per group are the same as before these changes (cvt, one FMA with
// the scale, times sx at the end), so the outputs are bit-identical to the previous AVX2 tiles.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/cpu/panel_streams.h"
#include "ops/cpu/quant_avx2_parts.h"
#include "ops/cpu/quant_kernels.h"
#include "ops/cpu_kernels.h"

namespace jitgen::cpu::quant {

namespace avx2 {
namespace {

constexpr int kRows = 2;          // 16 ymm registers: 2 rows x 4 column blocks x (int sums + fp32 sums)
static_assert(kRows <= kTileRows, "TileSink::store holds kTileRows rows");
constexpr int kInt16Quads = 8;    // int4 quads whose int16 pairs add up exactly (header comment)

// GCC reassociates a fully unrolled chain of integer adds into a tree, which keeps every product of the group live
// at once and spills them to the stack (16 ymm registers); this empty asm makes each sum a value the compiler cannot
// look through, so each accumulator stays one register updated in order.
JITGEN_AVX2 inline void keep_chain(__m256i& v) { asm("" : "+x"(v)); }

// Adds the exact int32 sums of quads [q_begin, q_end) of one group (block: its codes) for MR rows of activations (xq:
// the group's first byte of row 0, rows Kp apart) to acc[r][v] (columns 8v .. 8v + 7). kQuads = G / 4 when the group
// size is known at compile time (32 or 128: the quad loops unroll and every accumulator index is a constant, so they
// stay in registers), 0 otherwise. Every sum is exact, so a group summed in several ranges gives what one range does.
template <int MR, int kBits, int kQuads>
JITGEN_AVX2 inline void add_quad_sums(const uint8_t* block, const int8_t* xq, int64_t Kp, int64_t q_begin, int64_t q_end,
                                      __m256i acc[MR][4]) {
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (kBits == 8) {
#pragma GCC unroll 32
    for (int64_t q = q_begin; q < q_end; ++q) {
      if constexpr (MR == 1) {
        _mm_prefetch(reinterpret_cast<const char*>(block + kPrefetch8 + q * 128), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(block + kPrefetch8 + q * 128 + 64), _MM_HINT_T0);
      }
      __m256i wv[4];
      load_quad<8, true>(block, q, wv);
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) {
        const __m256i xb = broadcast4(xq + r * Kp + 4 * q), ax = _mm256_abs_epi8(xb);
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v) {
          acc[r][v] = _mm256_add_epi32(
              acc[r][v], _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(wv[v], xb)), ones));
          keep_chain(acc[r][v]);
        }
      }
    }
  } else {
    for (int64_t q0 = q_begin; q0 < q_end; q0 += kInt16Quads) {
      const int64_t q1 = std::min<int64_t>(q_end, q0 + kInt16Quads);
      __m256i s16[MR][4];
      for (int r = 0; r < MR; ++r)
        for (int v = 0; v < 4; ++v) s16[r][v] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int64_t q = q0; q < q1; ++q) {
        if constexpr (MR == 1) _mm_prefetch(reinterpret_cast<const char*>(block + kPrefetch4 + q * 64), _MM_HINT_T0);
        __m256i wv[4];
        load_quad<4, false>(block, q, wv);
#pragma GCC unroll 4
        for (int r = 0; r < MR; ++r) {
          const __m256i xb = broadcast4(xq + r * Kp + 4 * q);
#pragma GCC unroll 4
          for (int v = 0; v < 4; ++v) {
            s16[r][v] = _mm256_add_epi16(s16[r][v], _mm256_maddubs_epi16(wv[v], xb));
            keep_chain(s16[r][v]);
          }
        }
      }
      for (int r = 0; r < MR; ++r)
        for (int v = 0; v < 4; ++v) acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_madd_epi16(s16[r][v], ones));
    }
  }
}

// The exact int32 sums of one whole group: acc[r][v] for columns 8v .. 8v + 7 (add_quad_sums over every quad).
template <int MR, int kBits, int kQuads>
JITGEN_AVX2 inline void group_sums(const uint8_t* block, const int8_t* xq, int64_t Kp, int64_t quads,
                                   __m256i acc[MR][4]) {
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < 4; ++v) acc[r][v] = _mm256_setzero_si256();
  add_quad_sums<MR, kBits, kQuads>(block, xq, Kp, 0, quads, acc);
}

// facc[r][v] += scale * (acc[r][v] - zero * qsum) for group g of a block (block: its codes; qsum: row 0's group sums
// of the activations, rows `groups` apart).
template <int MR, int kBits, bool kZp>
JITGEN_AVX2 inline void group_scale(const QuantLinear& w, const uint8_t* block, const int32_t* qsum, int64_t groups,
                                    int64_t g, const __m256i acc[MR][4], __m256 facc[MR][4]) {
  const size_t per_group = w.code_bytes_per_group();
  const auto* sc = reinterpret_cast<const uint16_t*>(block + per_group);
  for (int v = 0; v < 4; ++v) {
    const __m256 s = load_scales(sc + 8 * v, w.spec.scale_f16);
    __m256i z = _mm256_setzero_si256();
    if constexpr (kZp)
      z = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + per_group + 64 + 8 * v)));
    for (int r = 0; r < MR; ++r) {
      const int32_t qs = qsum[r * groups + g];
      __m256i d = acc[r][v];
      if constexpr (kZp)
        d = _mm256_sub_epi32(d, _mm256_mullo_epi32(z, _mm256_set1_epi32(qs)));
      else if constexpr (kBits == 4)
        d = _mm256_sub_epi32(d, _mm256_set1_epi32(8 * qs));
      facc[r][v] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(d), facc[r][v]);
    }
  }
}

// One MR x 32 tile over every group of panel p, into out [MR][32].
template <int MR, int kBits, bool kZp, int kQuads>
JITGEN_AVX2 void tile(const QuantActs& a, const QuantLinear& w, int64_t p, int64_t m0, float* out) {
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
    group_sums<MR, kBits, kQuads>(block, xq, a.Kp, quads, acc);
    group_scale<MR, kBits, kZp>(w, block, qsum, a.groups, g, acc, facc);
  }
  for (int r = 0; r < MR; ++r) {
    const __m256 sx = _mm256_set1_ps(a.sx[m0 + r]);
    for (int v = 0; v < 4; ++v) _mm256_store_ps(out + r * 32 + 8 * v, _mm256_mul_ps(facc[r][v], sx));
  }
}

// Batch 1 (decode): S panels of one row, group by group in turn, so S streams of codes are read at once (one
// stream per core does not reach the memory's rate: cpu/simd.cc StreamTile). Each panel's arithmetic is tile<1>'s,
// so the outputs are bit-identical to it. out: [S][32].
template <int S, int kBits, bool kZp, int kQuads>
JITGEN_AVX2 void tile_streams(const QuantActs& a, const QuantLinear& w, const int64_t* ps, float* out) {
  const int64_t quads = kQuads > 0 ? kQuads : w.G / 4;
  const int8_t* xq = a.q.data();
  __m256 facc[S][1][4];
  for (int s = 0; s < S; ++s)
    for (int v = 0; v < 4; ++v) facc[s][0][v] = _mm256_setzero_ps();
  for (int64_t g = 0; g < w.groups; ++g, xq += w.G) {
    if constexpr (kQuads > 0) {  // groups of 32 / 128: the streams take turns group by group (1-4 KiB of int8)
      for (int s = 0; s < S; ++s) {
        const uint8_t* block = w.group_codes(ps[s], g);
        __m256i acc[1][4];
        group_sums<1, kBits, kQuads>(block, xq, a.Kp, quads, acc);
        group_scale<1, kBits, kZp>(w, block, a.qsum.data(), a.groups, g, acc, facc[s]);
      }
    } else {
      // Other group sizes -- one group per output channel (int8-ch, GPTQ group_size -1), whose group is the whole
      // panel -- take turns every kStreamQuads quads, or a stream would read its whole panel before the next one
      // starts: one stream at a time (int8-ch decode ran at 50-55% of the read probe against int8's 70-75%).
      __m256i acc[S][1][4];
      for (int s = 0; s < S; ++s)
        for (int v = 0; v < 4; ++v) acc[s][0][v] = _mm256_setzero_si256();
      for (int64_t q0 = 0; q0 < quads; q0 += kStreamQuads)
        for (int s = 0; s < S; ++s)
          add_quad_sums<1, kBits, 0>(w.group_codes(ps[s], g), xq, a.Kp, q0, std::min(quads, q0 + kStreamQuads), acc[s]);
      for (int s = 0; s < S; ++s)
        group_scale<1, kBits, kZp>(w, w.group_codes(ps[s], g), a.qsum.data(), a.groups, g, acc[s], facc[s]);
    }
  }
  const __m256 sx = _mm256_set1_ps(a.sx[0]);
  for (int s = 0; s < S; ++s)
    for (int v = 0; v < 4; ++v) _mm256_store_ps(out + s * 32 + 8 * v, _mm256_mul_ps(facc[s][0][v], sx));
}

}  // namespace

namespace {
template <bool kPartial>
JITGEN_AVX2 inline __m256 load_cols(const float* p, __m256i mask) {
  if constexpr (kPartial) return _mm256_maskload_ps(p, mask);
  return _mm256_loadu_ps(p);
}

template <bool kPartial>
JITGEN_AVX2 void store_rows(const TileSink& sink, const float* tile, int64_t m0, int mr, int64_t n0, int64_t nc) {
  __m256i mask[4] = {};  // read by the masked loads and stores only (kPartial)
  if constexpr (kPartial)
    for (int v = 0; v < 4; ++v)
      mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(nc - 8 * v)),
                                   _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256 b[4];
  for (int v = 0; v < 4; ++v)
    b[v] = sink.bias ? load_cols<kPartial>(sink.bias + n0 + 8 * v, mask[v]) : _mm256_setzero_ps();
  const float* res = sink.epilogue ? sink.epilogue->residual : nullptr;  // may alias y: read before the store
  for (int r = 0; r < mr; ++r) {
    const int64_t row = (m0 + r) * sink.N + n0;
    for (int v = 0; v < 4; ++v) {
      __m256 t = _mm256_add_ps(_mm256_load_ps(tile + r * 32 + 8 * v), b[v]);
      t = _mm256_add_ps(t, res ? load_cols<kPartial>(res + row + 8 * v, mask[v]) : _mm256_setzero_ps());
      if constexpr (kPartial)
        _mm256_maskstore_ps(sink.y + row + 8 * v, mask[v], t);
      else
        _mm256_storeu_ps(sink.y + row + 8 * v, t);
    }
  }
}

}  // namespace

// TileSink::store with AVX2 where no activation runs in between: (tile + bias) + residual per column, the same two
// IEEE additions as the scalar store (a missing operand adds 0.0f there too), so the results are bit-identical.
// Plain loads and stores for a whole panel; vmaskmovps only for a partial last one, because AMD cores run its store
// form slowly (Zen 4, SmolLM2 batch 32 int8 end to end: store_tile was 6% of the samples, 9% of the tiles').
JITGEN_AVX2 void store_tile(const TileSink& sink, const float* tile, int64_t m0, int mr, int64_t p) {
  if (sink.epilogue && sink.epilogue->has_act) return sink.store(tile, m0, mr, p);
  const int64_t n0 = p * 32, nc = std::min<int64_t>(32, sink.N - n0);
  if (nc == 32) return store_rows<false>(sink, tile, m0, mr, n0, nc);
  store_rows<true>(sink, tile, m0, mr, n0, nc);
}

namespace {

template <int kBits, bool kZp, int kQuads>
void run(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  alignas(32) float buf[std::max(kRows, kStreams) * 32];
  if (a.M == 1 && kStreams > 1) {
    for_each_stream_group<kStreams>(p0, p1, [&](const int64_t* ps, int live) {
      if (live == kStreams)
        tile_streams<kStreams, kBits, kZp, kQuads>(a, w, ps, buf);
      else  // the last stream's tail: the same arithmetic one panel at a time
        for (int s = 0; s < live; ++s) tile<1, kBits, kZp, kQuads>(a, w, ps[s], 0, buf + s * 32);
      for (int s = 0; s < live; ++s) store_tile(sink, buf + s * 32, 0, 1, ps[s]);
    });
    return;
  }
  for (int64_t p = p0; p < p1; ++p)
    for (int64_t m0 = 0; m0 < a.M; m0 += kRows) {
      const int mr = static_cast<int>(std::min<int64_t>(kRows, a.M - m0));
      if (mr == 2)
        tile<2, kBits, kZp, kQuads>(a, w, p, m0, buf);
      else
        tile<1, kBits, kZp, kQuads>(a, w, p, m0, buf);
      store_tile(sink, buf, m0, mr, p);
    }
}

template <int kBits, bool kZp>
void run_group(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  if (w.G == 32) return run<kBits, kZp, 8>(a, w, sink, p0, p1);
  if (w.G == 128) return run<kBits, kZp, 32>(a, w, sink, p0, p1);
  run<kBits, kZp, 0>(a, w, sink, p0, p1);
}

}  // namespace
}  // namespace avx2

// 8 activations at a time: the same max, scale, product and round-to-nearest-even (cvtps2dq in the default MXCSR
// mode, as std::nearbyint) as the scalar quantize_activations, so q, qsum and sx are bit-equal to it; the last
// K % 8 go through the scalar instructions of the same operations. Needs G % 8 == 0 or one group.
JITGEN_AVX2 void quantize_row_avx2(const float* x, int64_t K, int64_t G, int8_t* q, int32_t* qsum, float* sx) {
  const int64_t K8 = K / 8 * 8;
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 amax = _mm256_setzero_ps(), poison = _mm256_setzero_ps();  // poison: NaN if any x is NaN or Inf
  for (int64_t k = 0; k < K8; k += 8) {
    const __m256 v = _mm256_loadu_ps(x + k);
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v));
    poison = _mm256_add_ps(poison, _mm256_mul_ps(v, _mm256_setzero_ps()));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, amax);
  float m = 0.0f, pz = 0.0f;
  for (float l : lanes) m = std::max(m, l);
  _mm256_store_ps(lanes, poison);
  for (float l : lanes) pz += l;
  for (int64_t k = K8; k < K; ++k) {
    m = std::max(m, std::fabs(x[k]));
    pz += x[k] * 0.0f;
  }
  if (std::isnan(pz)) {
    *sx = std::nanf("");
    return;
  }
  *sx = m / 127.0f;
  if (*sx == 0.0f) return;
  const float inv = 1.0f / *sx;
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
  // Group by group over the vector part (G % 8 == 0, or one group), one horizontal sum per group. (A `% G` test per 8
  // lanes cost an integer division each: this function was 3.9% of the samples of a batch-32 SmolLM2 int4 run, 2.4%
  // without them.)
  for (int64_t g0 = 0, g = 0; g0 < K8; g0 += G, ++g) {
    const int64_t g1 = std::min(K8, g0 + G);
    __m256i gsum = _mm256_setzero_si256();  // this group's q so far, per lane
    for (int64_t k = g0; k < g1; k += 8) {
      __m256i i = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k), vinv));
      i = _mm256_max_epi32(lo, _mm256_min_epi32(hi, i));
      gsum = _mm256_add_epi32(gsum, i);
      const __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(q + k), _mm_packs_epi16(h, h));
    }
    const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(gsum), _mm256_extracti128_si256(gsum, 1));
    const __m128i s2 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    qsum[g] += _mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_shuffle_epi32(s2, 0xB1)));
  }
  for (int64_t k = K8; k < K; ++k) {
    const int32_t i = std::clamp(_mm_cvtss_si32(_mm_set_ss(x[k] * inv)), -127, 127);
    q[k] = static_cast<int8_t>(i);
    qsum[k / G] += i;
  }
}

void panels_avx2(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  if (w.spec.bits == 8) return avx2::run_group<8, false>(a, w, sink, p0, p1);
  if (w.has_zeros()) return avx2::run_group<4, true>(a, w, sink, p0, p1);
  avx2::run_group<4, false>(a, w, sink, p0, p1);
}

}  // namespace jitgen::cpu::quant
