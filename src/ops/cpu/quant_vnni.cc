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

#include "ops/cpu/quant_kernels.h"
#include "ops/cpu_kernels.h"

#define JITGEN_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))

namespace jitgen::cpu::quant {

namespace {

JITGEN_VNNI inline __m512 load_scales(const uint16_t* s, bool f16) {
  const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
  if (f16) return _mm512_cvtph_ps(bits);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

JITGEN_VNNI inline __m512i broadcast4(const int8_t* x) {
  int32_t v;
  std::memcpy(&v, x, 4);
  return _mm512_set1_epi32(v);
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
  const size_t per_group = w.code_bytes_per_group();
  const bool f16 = w.spec.scale_f16;
  constexpr int32_t zc = kBits == 8 ? 128 : 8;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const size_t stride = w.block_bytes();  // codes, then scales (64 bytes), then zero points (64 bytes): ops/quant.h
  const uint8_t* block = w.group_codes(p, 0);
  const int8_t* xq = a.q.data() + m0 * a.Kp;
  const int32_t* qsum = a.qsum.data() + m0 * a.groups;
  __m512 f0[MR], f1[MR];  // fp32 sums over the groups: columns 0-15, 16-31
  for (int r = 0; r < MR; ++r) f0[r] = f1[r] = _mm512_setzero_ps();
  for (int64_t g = 0; g < w.groups; ++g, block += stride, xq += w.G) {
    __m512i d0[MR], d1[MR];  // exact int32 sums of the group
    for (int r = 0; r < MR; ++r) {
      d0[r] = kZp ? _mm512_setzero_si512() : _mm512_set1_epi32(-zc * qsum[r * a.groups + g]);
      d1[r] = d0[r];
    }
#pragma GCC unroll 32
    for (int64_t q = 0; q < quads; ++q) {
      __m512i w0, w1;
      if constexpr (kBits == 8) {
        w0 = _mm512_load_si512(block + q * 128);
        w1 = _mm512_load_si512(block + q * 128 + 64);
      } else {
        const __m512i v = _mm512_load_si512(block + q * 64);
        w0 = _mm512_and_si512(v, low4);
        w1 = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
      }
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const __m512i xb = broadcast4(xq + r * a.Kp + 4 * q);
        d0[r] = _mm512_dpbusd_epi32(d0[r], w0, xb);
        d1[r] = _mm512_dpbusd_epi32(d1[r], w1, xb);
      }
    }
    const auto* sc = reinterpret_cast<const uint16_t*>(block + per_group);
    const __m512 s0 = load_scales(sc, f16), s1 = load_scales(sc + 16, f16);
    if constexpr (kZp) {
      const uint8_t* zp = block + per_group + 64;
      const __m512i z0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zp)));
      const __m512i z1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zp + 16)));
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const __m512i qv = _mm512_set1_epi32(qsum[r * a.groups + g]);
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
  for (int r = 0; r < MR; ++r) {
    const __m512 sx = _mm512_set1_ps(a.sx[m0 + r]);
    _mm512_storeu_ps(out + r * 32, _mm512_mul_ps(f0[r], sx));
    _mm512_storeu_ps(out + r * 32 + 16, _mm512_mul_ps(f1[r], sx));
  }
}

// TileSink::store with AVX-512 where no activation runs in between (an activation goes through the sink):
// (tile + bias) + residual per column, the same two IEEE additions as the scalar store (a missing bias or residual
// adds 0.0f there too, so the results are bit-identical), masked for a partial last panel. The scalar store was 3% of
// an int4 SmolLM2 decode step (branches per column for the optional operands and the tail).
JITGEN_VNNI void store_tile(const TileSink& sink, const float* tile, int64_t m0, int mr, int64_t p) {
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

template <int kBits, bool kZp, int kQuads>
void run(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  alignas(64) float buf[kTileRows * 32];
  for (int64_t p = p0; p < p1; ++p)
    for (int64_t m0 = 0; m0 < a.M; m0 += kTileRows) {
      const int mr = static_cast<int>(std::min<int64_t>(kTileRows, a.M - m0));
      switch (mr) {
        case 1: tile<1, kBits, kZp, kQuads>(a, w, p, m0, buf); break;
        case 2: tile<2, kBits, kZp, kQuads>(a, w, p, m0, buf); break;
        case 3: tile<3, kBits, kZp, kQuads>(a, w, p, m0, buf); break;
        default: tile<4, kBits, kZp, kQuads>(a, w, p, m0, buf); break;
      }
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
  __m512i gsum = _mm512_setzero_si512();  // this group's q so far, per lane: one horizontal sum per group, not per 16
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 mk = static_cast<__mmask16>(K - k >= 16 ? 0xFFFF : (1u << (K - k)) - 1);
    // cvtps rounds to nearest even (the default MXCSR mode), as std::nearbyint does in the scalar code.
    __m512i i = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + k), inv));
    i = _mm512_max_epi32(lo, _mm512_min_epi32(hi, i));
    _mm512_mask_cvtepi32_storeu_epi8(q + k, mk, i);
    gsum = _mm512_add_epi32(gsum, _mm512_maskz_mov_epi32(mk, i));
    if ((k + 16) % G == 0 || k + 16 >= K) {  // the group (or, with one group, the row) ends here
      qsum[k / G] += _mm512_reduce_add_epi32(gsum);
      gsum = _mm512_setzero_si512();
    }
  }
}

void panels_vnni(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  if (w.spec.bits == 8) return run_group<8, false>(a, w, sink, p0, p1);
  if (w.has_zeros()) return run_group<4, true>(a, w, sink, p0, p1);
  run_group<4, false>(a, w, sink, p0, p1);
}

}  // namespace jitgen::cpu::quant
