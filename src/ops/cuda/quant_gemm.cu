// Weight-only int8 / int4 linears (ops/cuda/quant_gemm.h): the activation quantization and the dp4a mat-vec kernels.
// The host emulation of the same order is quant_linear_emulated (quant_layout.cc); the tests compare the two.
#include <math_constants.h>

#include "ops/cuda/common.cuh"
#include "ops/cuda/quant_gemm.h"
#include "ops/cuda/quant_layout.h"

namespace jitgen::cuda {

namespace {

constexpr int kQuantizeThreads = 256;
constexpr int kWarps = 4;  // output columns per block of quant_matvec

// x row m -> q [slots] int8 (slot d = group d / Gd, offset d % Gd; the input slot s = group * G + offset reads x[s], or
// x[perm[s]]), and sx[m]. The same fp32 operations as cpu::quantize_activations, so q and sx are bit-equal to the CPU's.
template <typename T>
__global__ void quantize_rows_kernel(const T* x, int64_t K, const int32_t* perm, int64_t G, int64_t Gd, int64_t groups,
                                     int8_t* q, float* sx) {
  __shared__ float scratch[32];
  const int64_t m = blockIdx.x, slots = groups * Gd, width = perm ? groups * G : K;
  const T* row = x + m * K;
  auto value = [&](int64_t s) -> float {
    if (!perm) return load_f(row + s);
    const int32_t k = perm[s];
    return k >= 0 && k < K ? load_f(row + k) : 0.0f;
  };
  float amax = 0.0f, bad = 0.0f;
  for (int64_t s = threadIdx.x; s < width; s += blockDim.x) {
    const float v = value(s);
    if (!isfinite(v)) bad = 1.0f;
    else amax = fmaxf(amax, fabsf(v));
  }
  amax = block_reduce(amax, scratch, MaxOp{}, 0.0f);
  bad = block_reduce(bad, scratch, MaxOp{}, 0.0f);
  const float scale = amax / 127.0f;
  const bool zero = bad != 0.0f || scale == 0.0f;
  const float inv = zero ? 0.0f : 1.0f / scale;
  int8_t* out = q + m * slots;
  for (int64_t d = threadIdx.x; d < slots; d += blockDim.x) {
    const int64_t g = d / Gd, kk = d % Gd, s = g * G + kk;
    float code = 0.0f;
    if (!zero && kk < G && s < width) code = fminf(fmaxf(rintf(__fmul_rn(value(s), inv)), -127.0f), 127.0f);
    out[d] = static_cast<int8_t>(code);
  }
  if (threadIdx.x == 0) sx[m] = bad != 0.0f ? CUDART_NAN_F : scale;
}

// One warp per output column n, rows [m0, m0 + R) of the tile blockIdx.y: lanes take the column's 16-byte chunks
// round-robin (a warp reads 512 consecutive bytes per step), accumulate scale * exact chunk dot in fp32 (fmaf), reduce
// with the xor-shuffle tree, and lane 0 finishes each row: y = acc * sx (+ bias) (+ residual).
template <int kBits, int R, typename T, typename OutT>
__global__ void quant_matvec_kernel(DeviceQuantView w, const int8_t* q, const float* sx, int64_t M, const T* bias,
                                    const OutT* residual, OutT* out) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kWarps + warp;
  if (n >= w.N) return;  // no barrier below: whole warps leave
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * R, slots = w.groups * w.Gd;
  constexpr int kChunkK = kBits == 8 ? 16 : 32;
  const int64_t chunks = w.row_bytes / kQuantChunkBytes, per_group = w.Gd / kChunkK;
  const uint4* codes = reinterpret_cast<const uint4*>(w.codes + n * w.row_bytes);
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = 0.0f;
#pragma unroll 4  // several 16-byte loads in flight per lane: decode GEMVs are bound by memory latency
  for (int64_t c = lane; c < chunks; c += 32) {
    const uint4 cv = __ldg(codes + c);
    const uint32_t cw[4] = {cv.x, cv.y, cv.z, cv.w};
    const int64_t g = c / per_group;
    const float s = quant_scale_f32(__ldg(w.scales + n * w.groups + g), w.scale_f16);
    const int32_t z = w.zeros ? static_cast<int32_t>(__ldg(w.zeros + n * w.groups + g)) : w.zero_const;
    const int32_t zc = kBits == 8 ? z - 128 : z;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      if (m0 + r >= M) break;
      const uint4* xq = reinterpret_cast<const uint4*>(q + (m0 + r) * slots + c * kChunkK);
      uint32_t xw[8];
      const uint4 x0 = __ldg(xq);
      xw[0] = x0.x, xw[1] = x0.y, xw[2] = x0.z, xw[3] = x0.w;
      if constexpr (kBits == 4) {
        const uint4 x1 = __ldg(xq + 1);
        xw[4] = x1.x, xw[5] = x1.y, xw[6] = x1.z, xw[7] = x1.w;
      }
      acc[r] = fmaf(s, static_cast<float>(quant_chunk_dot<kBits>(cw, xw, zc)), acc[r]);
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = warp_sum(acc[r]);
  if (lane != 0) return;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t m = m0 + r;
    if (m >= M) break;
    float v = __fmul_rn(acc[r], sx[m]);
    if (bias) v = __fadd_rn(v, load_f(bias + n));
    if (residual) v = __fadd_rn(v, load_f(residual + m * w.N + n));
    store_f(out + m * w.N + n, v);
  }
}

template <int kBits, int R, typename T, typename OutT>
void launch_matvec(const DeviceQuantView& w, const int8_t* q, const float* sx, int64_t M, const void* bias,
                   const void* residual, void* out, cudaStream_t st) {
  const dim3 grid(static_cast<unsigned>((w.N + kWarps - 1) / kWarps), static_cast<unsigned>((M + R - 1) / R));
  quant_matvec_kernel<kBits, R, T, OutT><<<grid, kWarps * 32, 0, st>>>(
      w, q, sx, M, static_cast<const T*>(bias), static_cast<const OutT*>(residual), static_cast<OutT*>(out));
}

template <int kBits, typename T, typename OutT>
void launch_rows(const DeviceQuantView& w, const int8_t* q, const float* sx, int64_t M, const void* bias,
                 const void* residual, void* out, cudaStream_t st) {
  switch (quant_rows_per_tile(M)) {
    case 1: return launch_matvec<kBits, 1, T, OutT>(w, q, sx, M, bias, residual, out, st);
    case 2: return launch_matvec<kBits, 2, T, OutT>(w, q, sx, M, bias, residual, out, st);
    case 4: return launch_matvec<kBits, 4, T, OutT>(w, q, sx, M, bias, residual, out, st);
    default: return launch_matvec<kBits, 8, T, OutT>(w, q, sx, M, bias, residual, out, st);
  }
}

}  // namespace

void quant_linear(Storage s, const void* x, int64_t M, const DeviceQuantView& w, const void* bias, const void* residual,
                  void* out, bool out_f32, void* scratch, cudaStream_t st) {
  JITGEN_CHECK(M >= 1 && M <= 65535LL * 8 && (w.bits == 8 || w.bits == 4) && scratch != nullptr && w.codes != nullptr);
  JITGEN_CHECK(w.row_bytes % kQuantChunkBytes == 0 && w.Gd % quant_chunk_k(w.bits) == 0);
  JITGEN_CHECK(reinterpret_cast<uintptr_t>(scratch) % 16 == 0 && reinterpret_cast<uintptr_t>(w.codes) % 16 == 0);
  JITGEN_CHECK(!(out_f32 && residual));  // logits never carry a residual
  int8_t* q = static_cast<int8_t*>(scratch);
  float* sx = reinterpret_cast<float*>(static_cast<char*>(scratch) + (M * w.slots() + 15) / 16 * 16);
  dispatch_storage(s, [&](auto tag) {
    using T = decltype(tag);
    quantize_rows_kernel<T><<<static_cast<unsigned>(M), kQuantizeThreads, 0, st>>>(static_cast<const T*>(x), w.K,
                                                                                    w.perm, w.G, w.Gd, w.groups, q, sx);
    if (w.bits == 8)
      out_f32 ? launch_rows<8, T, float>(w, q, sx, M, bias, residual, out, st)
              : launch_rows<8, T, T>(w, q, sx, M, bias, residual, out, st);
    else
      out_f32 ? launch_rows<4, T, float>(w, q, sx, M, bias, residual, out, st)
              : launch_rows<4, T, T>(w, q, sx, M, bias, residual, out, st);
  });
  JITGEN_CUDA_LAUNCHED();
}

}  // namespace jitgen::cuda
