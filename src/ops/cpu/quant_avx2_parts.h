#pragma once
// Pieces shared by the two 256-bit quantized kernels, the AVX2 one (quant_avx2.cc: vpmaddubsw + vpmaddwd) and the
// AVX-VNNI one (quant_avxvnni.cc: the VEX vpdpbusd of Intel's client cores since Alder Lake). Only those two files
// include this header; its functions carry the AVX2 target attribute, which the AVX-VNNI functions' target includes,
// so they inline into both.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "ops/cpu/quant_kernels.h"

#define JITGEN_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace jitgen::cpu::quant::avx2 {

// A decode row reads this many panels of its range side by side (cpu/panel_streams.h): one stream per core does
// not reach the memory's rate. quant_bench 1 1 smollm2-135m on Zen 3, S = 1 / 2 alternating, 5 rounds (load ~5):
// int8 12.7-14.1 ms against 14.1-14.4 at S = 1, faster in every round; int4 4.5-6.9 against 5.8-7.5, faster in 4 of
// 5. S = 3 and 4 showed no order beyond the noise in an earlier try.
constexpr int kStreams = 2;
// Quads of a long group (one per output channel) a stream reads before the next stream's turn: 1 KiB of int8 codes
// (a group of 32's worth), 512 B of int4.
constexpr int64_t kStreamQuads = 8;
// A one-row tile streams its codes from memory and waits on them: on Zen 3 (one core of a loaded 2-core VM) the
// hardware prefetcher alone left it 15-30% slower in thread CPU time than software prefetches this far ahead in the
// block stream (quant_bench smollm2-135m M = 1, distances 0 / 1 / 2 / 4 KiB alternating; int8 best at 1 KiB, int4 at
// 2 KiB, about the same time ahead). Blocks lie back to back (ops/quant.h), so the address ahead is the stream's
// next bytes, or past its end (a prefetch never faults).
constexpr int64_t kPrefetch8 = 1024, kPrefetch4 = 2048;

JITGEN_AVX2 inline __m256 load_scales(const uint16_t* s, bool f16) {
  const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  if (f16) return _mm256_cvtph_ps(bits);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
}

JITGEN_AVX2 inline __m256i broadcast4(const int8_t* x) {
  int32_t v;
  std::memcpy(&v, x, 4);
  return _mm256_set1_epi32(v);
}

// The 4 column registers (columns 8v .. 8v + 7, 4 consecutive k per int32 lane) of quad q of a group's codes: int8
// codes as stored (unsigned u), or with kSigned as signed weights u - 128 (one XOR); int4 codes unpacked (0..15).
template <int kBits, bool kSigned>
JITGEN_AVX2 inline void load_quad(const uint8_t* block, int64_t q, __m256i wv[4]) {
  if constexpr (kBits == 8) {
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int v = 0; v < 4; ++v) {
      wv[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(block + q * 128 + v * 32));
      if constexpr (kSigned) wv[v] = _mm256_xor_si256(wv[v], flip);
    }
  } else {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int c = 0; c < 2; ++c) {  // low nibbles: columns 0-15, high nibbles: 16-31 (ops/quant.h)
      const __m256i b = _mm256_load_si256(reinterpret_cast<const __m256i*>(block + q * 64 + c * 32));
      wv[c] = _mm256_and_si256(b, low4);
      wv[2 + c] = _mm256_and_si256(_mm256_srli_epi16(b, 4), low4);
    }
  }
}

// TileSink::store with AVX2 where no activation runs in between (quant_avx2.cc).
void store_tile(const TileSink& sink, const float* tile, int64_t m0, int mr, int64_t p);

}  // namespace jitgen::cpu::quant::avx2
