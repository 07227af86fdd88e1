// The Llama family's elementwise ops on the GPU: RMSNorm, the gated MLP's product and rotary embeddings (HF
// rotate_half). Storage fp32 / fp16 / bf16, arithmetic fp32; the CPU oracles are ops/reference_llama.cc.
#include <algorithm>

#include "ops/cuda/common.cuh"

namespace jitgen::cuda {

namespace {

constexpr int kThreads = 256;

// One block per row; sum of squares in fp32 (HF LlamaRMSNorm upcasts to fp32 too).
template <typename T>
__global__ void rms_norm_kernel(const T* x, const T* gamma, float eps, int64_t C, T* out) {
  __shared__ float scratch[32];
  const T* xr = x + blockIdx.x * C;
  T* yr = out + blockIdx.x * C;
  float ss = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const float v = load_f(xr + c);
    ss += v * v;
  }
  ss = block_reduce(ss, scratch, SumOp{}, 0.0f);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(C) + eps);
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) store_f(yr + c, load_f(gamma + c) * (load_f(xr + c) * inv));
}

template <typename T>
__global__ void mul_kernel(const T* a, const T* b, T* out, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) store_f(out + i, load_f(a + i) * load_f(b + i));
}

// One block per row (token): the frequencies (dynamic NTK: recomputed from max(positions) + 1), then every
// (head, pair) of the row. smem: [rotary / 2] frequencies.
template <typename T>
__global__ void rope_kernel(const T* x, const int32_t* positions, const float* inv_freq, RopeDims d, T* out) {
  extern __shared__ float freq[];
  __shared__ int32_t scratch_max[32];
  const int64_t half = d.rotary / 2, width = d.heads * d.D, r = blockIdx.x;
  bool grown = false;
  float seq = 0;
  if (d.dynamic_base > 0) {
    // max(positions) over the whole step: every row uses the same frequencies (HF dynamic_rope_update).
    int32_t mx = 0;
    for (int64_t i = threadIdx.x; i < d.rows; i += blockDim.x) mx = max(mx, positions[i]);
    for (int o = 16; o > 0; o >>= 1) mx = max(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    if ((threadIdx.x & 31) == 0) scratch_max[threadIdx.x >> 5] = mx;
    __syncthreads();
    mx = 0;
    for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) mx = max(mx, scratch_max[w]);
    grown = mx + 1 > d.original_max;
    seq = static_cast<float>(max(static_cast<int64_t>(mx) + 1, d.original_max));
  }
  for (int64_t i = threadIdx.x; i < half; i += blockDim.x) {
    if (grown) {  // cpu::dynamic_inv_freq, fp32 as torch
      const float dim = static_cast<float>(d.rotary);
      const float g = d.dynamic_factor * seq / static_cast<float>(d.original_max) - (d.dynamic_factor - 1.0f);
      const float base = d.dynamic_base * powf(g, static_cast<float>(static_cast<double>(d.rotary) / (d.rotary - 2)));
      freq[i] = 1.0f / powf(base, static_cast<float>(2 * i) / dim);
    } else {
      freq[i] = inv_freq[i];
    }
  }
  __syncthreads();
  const float pos = static_cast<float>(positions[r]);
  const T* xr = x + r * width;
  T* yr = out + r * width;
  for (int64_t e = threadIdx.x; e < d.heads * half; e += blockDim.x) {
    const int64_t h = e / half, i = e % half;
    const float angle = freq[i] * pos;  // HF: inv_freq @ position_ids in fp32
    const float c = cosf(angle) * d.attention_factor, sn = sinf(angle) * d.attention_factor;
    const float a = load_f(xr + h * d.D + i), b = load_f(xr + h * d.D + half + i);
    store_f(yr + h * d.D + i, a * c - b * sn);
    store_f(yr + h * d.D + half + i, b * c + a * sn);
  }
  for (int64_t e = threadIdx.x; e < d.heads * (d.D - d.rotary); e += blockDim.x) {  // partial rotary: pass through
    const int64_t h = e / (d.D - d.rotary), i = d.rotary + e % (d.D - d.rotary);
    yr[h * d.D + i] = xr[h * d.D + i];
  }
}

unsigned row_threads(int64_t C) { return C >= 1024 ? 256 : C >= 256 ? 128 : 64; }

}  // namespace

void rms_norm(Storage s, const void* x, const void* gamma, float eps, int64_t R, int64_t C, void* out,
              cudaStream_t st) {
  dispatch_storage(s, [&](auto t) {
    using T = decltype(t);
    rms_norm_kernel<<<R, row_threads(C), 0, st>>>(static_cast<const T*>(x), static_cast<const T*>(gamma), eps, C,
                                                  static_cast<T*>(out));
  });
  JITGEN_CUDA_LAUNCHED();
}

void mul(Storage s, const void* a, const void* b, void* out, int64_t n, cudaStream_t st) {
  dispatch_storage(s, [&](auto t) {
    using T = decltype(t);
    mul_kernel<<<blocks_for(n, kThreads), kThreads, 0, st>>>(static_cast<const T*>(a), static_cast<const T*>(b),
                                                              static_cast<T*>(out), n);
  });
  JITGEN_CUDA_LAUNCHED();
}

void rope(Storage s, const void* x, const int32_t* positions, const float* inv_freq, const RopeDims& d, void* out,
          cudaStream_t st) {
  JITGEN_CHECK(d.rotary % 2 == 0 && d.rotary <= d.D && d.rows > 0);
  const size_t smem = static_cast<size_t>(d.rotary / 2) * sizeof(float);
  dispatch_storage(s, [&](auto t) {
    using T = decltype(t);
    rope_kernel<<<d.rows, 128, smem, st>>>(static_cast<const T*>(x), positions, inv_freq, d, static_cast<T*>(out));
  });
  JITGEN_CUDA_LAUNCHED();
}

}  // namespace jitgen::cuda
