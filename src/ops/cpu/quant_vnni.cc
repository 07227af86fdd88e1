// Quantized panels with AVX-512 VNNI: vpdpbusd multiplies 4 unsigned weight codes by 4 signed activations per
// int32 lane (one lane per column) and accumulates exactly; one group's int32 sums are corrected for the zero
// point, converted and scaled into fp32 accumulators. int4 codes are unpacked in registers (AND / shift + AND).
// Only this file's functions use AVX-512 instructions (target attributes); the dispatcher checks cpuid first.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/cpu/quant_kernels.h"

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

// One MR x 32 tile over every group of panel p. For one or two rows, even and odd quads go to separate int32
// accumulators so that the vpdpbusd chains overlap.
template <int MR, int kBits, bool kZp>
JITGEN_VNNI void tile(const QuantActs& a, const QuantLinear& w, int64_t p, int64_t m0, float* out) {
  constexpr int kSets = MR <= 2 ? 2 : 1;
  const int64_t quads = w.G / 4;
  const size_t per_group = w.code_bytes_per_group();
  const bool f16 = w.spec.scale_f16;
  const int32_t zc = kBits == 8 ? 128 : 8;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 facc[MR][2];
  for (int r = 0; r < MR; ++r) facc[r][0] = facc[r][1] = _mm512_setzero_ps();
  for (int64_t g = 0; g < w.groups; ++g) {
    const uint8_t* block = w.codes.get() + (p * w.groups + g) * per_group;
    const int8_t* xq[MR];
    for (int r = 0; r < MR; ++r) xq[r] = a.q.data() + (m0 + r) * a.Kp + g * w.G;
    __m512i acc[kSets][MR][2];
    for (int s = 0; s < kSets; ++s)
      for (int r = 0; r < MR; ++r) acc[s][r][0] = acc[s][r][1] = _mm512_setzero_si512();
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
      const int s = kSets == 2 ? static_cast<int>(q & 1) : 0;
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) {
        const __m512i xb = broadcast4(xq[r] + 4 * q);
        acc[s][r][0] = _mm512_dpbusd_epi32(acc[s][r][0], w0, xb);
        acc[s][r][1] = _mm512_dpbusd_epi32(acc[s][r][1], w1, xb);
      }
    }
    const uint16_t* sc = w.scales.get() + (p * w.groups + g) * 32;
    const __m512 s0 = load_scales(sc, f16), s1 = load_scales(sc + 16, f16);
    __m512i z0 = _mm512_setzero_si512(), z1 = z0;
    if constexpr (kZp) {
      const uint8_t* zp = w.zeros.get() + (p * w.groups + g) * 32;
      z0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zp)));
      z1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zp + 16)));
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const int32_t qs = a.qsum[(m0 + r) * a.groups + g];
      __m512i d0 = acc[0][r][0], d1 = acc[0][r][1];
      if constexpr (kSets == 2) {
        d0 = _mm512_add_epi32(d0, acc[1][r][0]);
        d1 = _mm512_add_epi32(d1, acc[1][r][1]);
      }
      if constexpr (kZp) {
        const __m512i qv = _mm512_set1_epi32(qs);
        d0 = _mm512_sub_epi32(d0, _mm512_mullo_epi32(z0, qv));
        d1 = _mm512_sub_epi32(d1, _mm512_mullo_epi32(z1, qv));
      } else {
        const __m512i c = _mm512_set1_epi32(zc * qs);
        d0 = _mm512_sub_epi32(d0, c);
        d1 = _mm512_sub_epi32(d1, c);
      }
      facc[r][0] = _mm512_fmadd_ps(s0, _mm512_cvtepi32_ps(d0), facc[r][0]);
      facc[r][1] = _mm512_fmadd_ps(s1, _mm512_cvtepi32_ps(d1), facc[r][1]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    const __m512 sx = _mm512_set1_ps(a.sx[m0 + r]);
    _mm512_storeu_ps(out + r * 32, _mm512_mul_ps(facc[r][0], sx));
    _mm512_storeu_ps(out + r * 32 + 16, _mm512_mul_ps(facc[r][1], sx));
  }
}

template <int kBits, bool kZp>
void run(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  alignas(64) float buf[kTileRows * 32];
  for (int64_t p = p0; p < p1; ++p)
    for (int64_t m0 = 0; m0 < a.M; m0 += kTileRows) {
      const int mr = static_cast<int>(std::min<int64_t>(kTileRows, a.M - m0));
      switch (mr) {
        case 1: tile<1, kBits, kZp>(a, w, p, m0, buf); break;
        case 2: tile<2, kBits, kZp>(a, w, p, m0, buf); break;
        case 3: tile<3, kBits, kZp>(a, w, p, m0, buf); break;
        default: tile<4, kBits, kZp>(a, w, p, m0, buf); break;
      }
      sink.store(buf, m0, mr, p);
    }
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
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 mk = static_cast<__mmask16>(K - k >= 16 ? 0xFFFF : (1u << (K - k)) - 1);
    // cvtps rounds to nearest even (the default MXCSR mode), as std::nearbyint does in the scalar code.
    __m512i i = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + k), inv));
    i = _mm512_max_epi32(lo, _mm512_min_epi32(hi, i));
    _mm512_mask_cvtepi32_storeu_epi8(q + k, mk, i);
    qsum[k / G] += _mm512_reduce_add_epi32(_mm512_maskz_mov_epi32(mk, i));
  }
}

void panels_vnni(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  if (w.spec.bits == 8) return run<8, false>(a, w, sink, p0, p1);
  if (w.zeros) return run<4, true>(a, w, sink, p0, p1);
  run<4, false>(a, w, sink, p0, p1);
}

}  // namespace jitgen::cpu::quant
