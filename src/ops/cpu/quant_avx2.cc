// Quantized panels with AVX2 (CPUs without AVX-512 VNNI). vpmaddubsw multiplies unsigned by signed bytes into
// saturating int16 pairs, so the operands must keep each pair below 2^15: int4 codes (<= 15) times activations
// (|q| <= 127) fit as they are; int8 codes are turned back into signed weights w = u - 128 and multiplied as
// |w| times sign(w) * q (<= 2 * 127 * 127), which makes the sum sum(w q) directly (no zero-point term).
// vpmaddwd with ones widens the pairs to int32 lanes of 4 products, one lane per column (the VNNI layout read
// 32 bytes at a time: 8 columns per register). Target attributes per function; the dispatcher checks cpuid.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "ops/cpu/quant_kernels.h"

#define JITGEN_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace jitgen::cpu::quant {

namespace {

constexpr int kRows = 2;  // 16 ymm registers: 2 rows x 4 column blocks x (int32 + fp32) accumulators

JITGEN_AVX2 inline __m256 load_scales(const uint16_t* s, bool f16) {
  const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  if (f16) return _mm256_cvtph_ps(bits);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
}

template <int MR, int kBits, bool kZp>
JITGEN_AVX2 void tile(const QuantActs& a, const QuantLinear& w, int64_t p, int64_t m0, float* out) {
  const int64_t quads = w.G / 4;
  const bool f16 = w.spec.scale_f16;
  const __m256i low4 = _mm256_set1_epi8(0x0F), flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 facc[MR][4];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < 4; ++v) facc[r][v] = _mm256_setzero_ps();
  for (int64_t g = 0; g < w.groups; ++g) {
    const uint8_t* block = w.group_codes(p, g);
    const int8_t* xq[MR];
    for (int r = 0; r < MR; ++r) xq[r] = a.q.data() + (m0 + r) * a.Kp + g * w.G;
    __m256i acc[MR][4];
    for (int r = 0; r < MR; ++r)
      for (int v = 0; v < 4; ++v) acc[r][v] = _mm256_setzero_si256();
    for (int64_t q = 0; q < quads; ++q) {
      __m256i wv[4];  // columns 8v .. 8v + 7 of the panel
      if constexpr (kBits == 8) {
        for (int v = 0; v < 4; ++v)
          wv[v] = _mm256_xor_si256(
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + (q * 2 + v / 2) * 64 + (v % 2) * 32)), flip);
      } else {
        for (int c = 0; c < 2; ++c) {
          const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + q * 64 + c * 32));
          wv[c] = _mm256_and_si256(b, low4);
          wv[2 + c] = _mm256_and_si256(_mm256_srli_epi16(b, 4), low4);
        }
      }
      for (int r = 0; r < MR; ++r) {
        int32_t x4;
        std::memcpy(&x4, xq[r] + 4 * q, 4);
        const __m256i xb = _mm256_set1_epi32(x4);
        for (int v = 0; v < 4; ++v) {
          __m256i pairs;
          if constexpr (kBits == 8)
            pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(wv[v]), _mm256_sign_epi8(xb, wv[v]));
          else
            pairs = _mm256_maddubs_epi16(wv[v], xb);
          acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_madd_epi16(pairs, ones));
        }
      }
    }
    const uint16_t* sc = w.group_scales(p, g);
    for (int v = 0; v < 4; ++v) {
      const __m256 s = load_scales(sc + 8 * v, f16);
      __m256i z = _mm256_setzero_si256();
      if constexpr (kZp)
        z = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(w.group_zeros(p, g) + 8 * v)));
      for (int r = 0; r < MR; ++r) {
        const int32_t qs = a.qsum[(m0 + r) * a.groups + g];
        __m256i d = acc[r][v];
        if constexpr (kZp)
          d = _mm256_sub_epi32(d, _mm256_mullo_epi32(z, _mm256_set1_epi32(qs)));
        else if constexpr (kBits == 4)
          d = _mm256_sub_epi32(d, _mm256_set1_epi32(8 * qs));
        facc[r][v] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(d), facc[r][v]);
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    const __m256 sx = _mm256_set1_ps(a.sx[m0 + r]);
    for (int v = 0; v < 4; ++v) _mm256_storeu_ps(out + r * 32 + 8 * v, _mm256_mul_ps(facc[r][v], sx));
  }
}

template <int kBits, bool kZp>
void run(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  alignas(32) float buf[kRows * 32];
  for (int64_t p = p0; p < p1; ++p)
    for (int64_t m0 = 0; m0 < a.M; m0 += kRows) {
      const int mr = static_cast<int>(std::min<int64_t>(kRows, a.M - m0));
      if (mr == 2)
        tile<2, kBits, kZp>(a, w, p, m0, buf);
      else
        tile<1, kBits, kZp>(a, w, p, m0, buf);
      sink.store(buf, m0, mr, p);
    }
}

}  // namespace

void panels_avx2(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  if (w.spec.bits == 8) return run<8, false>(a, w, sink, p0, p1);
  if (w.has_zeros()) return run<4, true>(a, w, sink, p0, p1);
  run<4, false>(a, w, sink, p0, p1);
}

}  // namespace jitgen::cpu::quant
