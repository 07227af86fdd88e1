#pragma once
// Weight-only quantized linears on the GPU: the device layout of an int8 / int4 matrix and the integer math of one
// 16-byte chunk, shared by the kernels (quant_gemm.cu, compiled by nvcc) and by host code (the repacking and a scalar
// emulation of the kernel that the host tests compare with ref::quant_linear on machines without a GPU).
//
// The math is the CPU's (ops/quant.h), so the GPU computes what `jitgen --quantize` computes on the CPU:
//   activations quantized per row, q = clamp(rint(x / sx), -127, 127), sx = max|x| / 127 (the same fp32 operations,
//   so the same q bit for bit); each chunk's dot product sum q * (u - z) exact in int32; fp32 accumulation of
//   scale * dot over chunks (the only rounding that differs from the CPU: chunk order instead of group order);
//   times sx last. llama.cpp's mmvq kernels follow the same plan (q8_1 activations, dp4a over weight blocks).
//
// Device layout (DeviceQuantMatrix), for y[M, N] = x[M, K] @ W[K, N]: one row of codes per output column n (the
// "row of K" that a warp streams front to back), each group of G input slots padded to Gd = G rounded up to a whole
// number of 16-byte chunks (16 k for int8, 32 k for int4), so every chunk lies in one group:
//   codes  [N][row_bytes], row_bytes = groups * Gd * bits / 8
//          int8: byte k = u - 128 as a signed byte (so the symmetric zero point 128 becomes 0)
//          int4: chunk of 32 k = 4 words; word w holds k = 8w .. 8w + 3 in its low nibbles (byte b: k = 8w + b) and
//                k = 8w + 4 .. 8w + 7 in its high nibbles, so (v & 0x0f0f0f0f) and ((v >> 4) & 0x0f0f0f0f) are the
//                operands of two dp4a with consecutive activation words
//          padded slots hold 0 (their activations are 0: they add nothing)
//   scales [N][groups] bf16 or fp16 bits (as stored on the CPU: 2 bytes per group, not widened)
//   zeros  [N][groups] uint8 zero points, only for formats with zero points (else the constant 128 / 8)
//   perm   [groups * G] the input row of each slot (-1 padding) for GPTQ desc_act matrices (ops/quant.h), or empty
// The activation scratch follows the same slot order: q [M][groups * Gd] int8 (padding 0), then sx [M] fp32.
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define JITGEN_HD __host__ __device__ __forceinline__
#else
#define JITGEN_HD inline
#endif

namespace jitgen::cpu {
struct QuantLinear;
}

namespace jitgen::cuda {

constexpr int kQuantChunkBytes = 16;  // what one lane loads at a time (one uint4)

// k per chunk: 16 int8 codes or 32 int4 codes.
JITGEN_HD int quant_chunk_k(int bits) { return bits == 8 ? 16 : 32; }
// G rounded up to whole chunks.
JITGEN_HD int64_t quant_group_padded(int64_t G, int bits) {
  const int c = quant_chunk_k(bits);
  return (G + c - 1) / c * c;
}

// Sum of four products of signed bytes plus c: the dp4a instruction (sm_61+), emulated on the host.
JITGEN_HD int32_t dp4a_s8(uint32_t a, uint32_t b, int32_t c) {
#if defined(__CUDA_ARCH__)
  return __dp4a(static_cast<int>(a), static_cast<int>(b), c);
#else
  for (int i = 0; i < 4; ++i)
    c += static_cast<int32_t>(static_cast<int8_t>(a >> (8 * i))) * static_cast<int32_t>(static_cast<int8_t>(b >> (8 * i)));
  return c;
#endif
}

// The exact int32 sum over one chunk of q * (u - z): `w` the chunk's 4 code words, `x` its activation words (4 for
// int8, 8 for int4), `zc` the zero point in the stored code's frame (int8: z - 128; int4: z).
template <int kBits>
JITGEN_HD int32_t quant_chunk_dot(const uint32_t* w, const uint32_t* x, int32_t zc) {
  int32_t dot = 0, xsum = 0;
  if constexpr (kBits == 8) {
    for (int i = 0; i < 4; ++i) {
      dot = dp4a_s8(w[i], x[i], dot);
      if (zc != 0) xsum = dp4a_s8(0x01010101u, x[i], xsum);
    }
  } else {
    for (int i = 0; i < 4; ++i) {
      dot = dp4a_s8(w[i] & 0x0f0f0f0fu, x[2 * i], dot);
      dot = dp4a_s8((w[i] >> 4) & 0x0f0f0f0fu, x[2 * i + 1], dot);
      xsum = dp4a_s8(0x01010101u, x[2 * i], xsum);
      xsum = dp4a_s8(0x01010101u, x[2 * i + 1], xsum);
    }
  }
  return dot - zc * xsum;
}

// A scale's 16 bits as fp32 (bf16: the high half of a float; fp16: IEEE half, subnormals included).
JITGEN_HD float quant_scale_f32(uint16_t bits, bool f16) {
#if defined(__CUDA_ARCH__)
  return f16 ? __half2float(__ushort_as_half(bits)) : __uint_as_float(static_cast<uint32_t>(bits) << 16);
#else
  if (!f16) {
    const uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  const uint32_t sign = (bits >> 15) & 1u, exp = (bits >> 10) & 31u, man = bits & 1023u;
  float v;
  if (exp == 0) v = static_cast<float>(man) * (1.0f / 16777216.0f);  // subnormal: man * 2^-24
  else if (exp == 31) v = man ? __builtin_nanf("") : __builtin_inff();
  else {
    const uint32_t u = ((exp + 112u) << 23) | (man << 13);
    memcpy(&v, &u, 4);
  }
  return sign ? -v : v;
#endif
}

// The host copy of a device matrix (what DeviceWeights uploads). Built from the CPU panels (cpu::QuantLinear), so the
// GPU runs exactly the weights the CPU path runs, pre-quantized checkpoints (GPTQ / AWQ, permuted or not) included.
struct DeviceQuantMatrix {
  int bits = 8;
  bool scale_f16 = false;
  int64_t K = 0, N = 0, G = 0, Gd = 0, groups = 0, row_bytes = 0;
  int32_t zero_const = 128;      // the zero point when `zeros` is empty
  std::vector<uint8_t> codes;    // [N][row_bytes]
  std::vector<uint16_t> scales;  // [N][groups]
  std::vector<uint8_t> zeros;    // [N][groups] or empty
  std::vector<int32_t> perm;     // [groups * G] or empty

  int64_t slots() const { return groups * Gd; }  // activation scratch row length
  // The code (0..255 or 0..15) of slot s (in 0 .. groups * G) of column n, read back from the layout (tests).
  int code_at(int64_t n, int64_t s) const;
};

// Repacks the CPU panels into the device layout. Throws Error(kInvalidArgument) for formats the kernels do not have.
DeviceQuantMatrix to_device_layout(const cpu::QuantLinear& w);

// Bytes of activation scratch a quantized linear of M rows needs (q, then sx aligned to 16 bytes).
size_t quant_scratch_bytes(const DeviceQuantMatrix& w, int64_t M);
size_t quant_scratch_bytes(int64_t slots, int64_t M);

// The host emulation of the kernels, in their order (chunks within a lane, lanes of a warp, a warp's shuffle tree),
// over the device layout: y [M, N] fp32 = quantized x @ W (+ bias, fp32 [N] or null). Tests only.
void quant_linear_emulated(const float* x, int64_t M, const DeviceQuantMatrix& w, const float* bias, float* y);

}  // namespace jitgen::cuda
