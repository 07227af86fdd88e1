#pragma once
// Pieces shared by the two AVX-512 quantized kernels, the vnni one (quant_vnni.cc) and the amx one (quant_amx.cc,
// whose epilogue is the vnni path's). Only those two files include this header; its functions carry the vnni target
// attribute, which the amx functions' target includes, so they inline into both.
#include <immintrin.h>

#include <cstdint>

#define JITGEN_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))

namespace jitgen::cpu::quant {

// The 16 scales of columns 0-15 (or 16-31) of a block as fp32: fp16 bits, or bf16 bits (the top half of an fp32).
JITGEN_VNNI inline __m512 load_scales(const uint16_t* s, bool f16) {
  const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
  if (f16) return _mm512_cvtph_ps(bits);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

}  // namespace jitgen::cpu::quant
