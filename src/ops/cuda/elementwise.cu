// Embeddings, adds, activations, layer norm, last position, and the small bookkeeping kernels.
#include <algorithm>

#include "ops/cuda/common.cuh"

namespace jitgen::cuda {

namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void to_f32_kernel(const T* in, float* out, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = load_f(in + i);
}

template <typename T>
__global__ void embedding_kernel(const T* table, const int32_t* ids, int64_t C, T* out) {
  const int64_t r = blockIdx.x;
  const T* src = table + static_cast<int64_t>(ids[r]) * C;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) out[r * C + c] = src[c];
}

template <typename T>
__global__ void embedding_sum_kernel(const T* ta, const int32_t* ia, const T* tb, const int32_t* ib, int64_t C,
                                     T* out) {
  const int64_t r = blockIdx.x;
  const T* a = ta + static_cast<int64_t>(ia[r]) * C;
  const T* b = tb + static_cast<int64_t>(ib[r]) * C;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) store_f(out + r * C + c, load_f(a + c) + load_f(b + c));
}

template <typename T>
__global__ void add_kernel(const T* a, const T* b, T* out, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) store_f(out + i, load_f(a + i) + load_f(b + i));
}

__device__ float apply_act(float v, Act act) {
  switch (act) {
    case Act::kGeluTanh:  // HF gelu_new; tanhf (not the approximate tanh) keeps fp32 within 1e-6 of the CPU
      return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    case Act::kGeluErf:
      return 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
    case Act::kRelu:
      return fmaxf(v, 0.0f);
    case Act::kSilu:
      return v / (1.0f + expf(-v));
  }
  return v;
}

template <typename T>
__global__ void activation_kernel(const T* x, T* out, int64_t n, Act act) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) store_f(out + i, apply_act(load_f(x + i), act));
}

// One block per row; mean and variance in two passes (as torch), fp32.
template <typename T>
__global__ void layer_norm_kernel(const T* x, const T* gamma, const T* beta, float eps, int64_t C, T* out) {
  __shared__ float scratch[32];
  const T* xr = x + blockIdx.x * C;
  T* yr = out + blockIdx.x * C;
  float s = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += load_f(xr + c);
  const float mean = block_reduce(s, scratch, SumOp{}, 0.0f) / static_cast<float>(C);
  float v = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const float d = load_f(xr + c) - mean;
    v += d * d;
  }
  const float var = block_reduce(v, scratch, SumOp{}, 0.0f) / static_cast<float>(C);
  const float inv = rsqrtf(var + eps);
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
    store_f(yr + c, (load_f(xr + c) - mean) * inv * load_f(gamma + c) + load_f(beta + c));
}

template <typename T>
__global__ void last_position_kernel(const T* x, int64_t T_, int64_t C, T* out) {
  const int64_t b = blockIdx.x;
  const T* src = x + (b * T_ + T_ - 1) * C;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) out[b * C + c] = src[c];
}

__global__ void mark_decode_slot_kernel(int32_t* key_mask, const int32_t* cache_pos, int64_t B, int64_t S) {
  const int64_t b = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (b < B && cache_pos[b] >= 0 && cache_pos[b] < S) key_mask[b * S + cache_pos[b]] = 1;
}

__global__ void gather_rows_kernel(const int32_t* src, int32_t* dst, const int32_t* rows, int64_t words) {
  const int64_t r = blockIdx.y;
  const int32_t* from = src + static_cast<int64_t>(rows[r]) * words;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < words;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[r * words + i] = from[i];
}

unsigned row_threads(int64_t C) { return C >= 1024 ? 256 : C >= 256 ? 128 : 64; }

}  // namespace

void to_f32(Storage s, const void* in, float* out, int64_t n, cudaStream_t st) {
  dispatch_storage(s, [&](auto t) {
    using T = decltype(t);
    to_f32_kernel<<<blocks_for(n, kThreads), kThreads, 0, st>>>(static_cast<const T*>(in), out, n);
  });
  JITGEN_CUDA_LAUNCHED();
}

void embedding(Storage s, const void* table, const int32_t* ids, int64_t C, int64_t R, void* out, cudaStream_t st) {
  dispatch_storage(s, [&](auto t) {
    using T = decltype(t);
    embedding_kernel<<<R, row_threads(C), 0, st>>>(static_cast<const T*>(table), ids, C, static_cast<T*>(out));
  });
  JITGEN_CUDA_LAUNCHED();
}

void embedding_sum(Storage s, const void* table_a, const int32_t* ids_a, const void* table_b, const int32_t* ids_b,
                   int64_t C, int64_t R, void* out, cudaStream_t st) {
  dispatch_storage(s, [&](auto t) {
    using T = decltype(t);
    embedding_sum_kernel<<<R, row_threads(C), 0, st>>>(static_cast<const T*>(table_a), ids_a,
                                                       static_cast<const T*>(table_b), ids_b, C, static_cast<T*>(out));
  });
  JITGEN_CUDA_LAUNCHED();
}

void add(Storage s, const void* a, const void* b, void* out, int64_t n, cudaStream_t st) {
  dispatch_storage(s, [&](auto t) {
    using T = decltype(t);
    add_kernel<<<blocks_for(n, kThreads), kThreads, 0, st>>>(static_cast<const T*>(a), static_cast<const T*>(b),
                                                              static_cast<T*>(out), n);
  });
  JITGEN_CUDA_LAUNCHED();
}

void activation(Storage s, const void* x, void* out, int64_t n, Act act, cudaStream_t st) {
  dispatch_storage(s, [&](auto t) {
    using T = decltype(t);
    activation_kernel<<<blocks_for(n, kThreads), kThreads, 0, st>>>(static_cast<const T*>(x), static_cast<T*>(out),
                                                                     n, act);
  });
  JITGEN_CUDA_LAUNCHED();
}

void layer_norm(Storage s, const void* x, const void* gamma, const void* beta, float eps, int64_t R, int64_t C,
                void* out, cudaStream_t st) {
  dispatch_storage(s, [&](auto t) {
    using T = decltype(t);
    layer_norm_kernel<<<R, row_threads(C), 0, st>>>(static_cast<const T*>(x), static_cast<const T*>(gamma),
                                                    static_cast<const T*>(beta), eps, C, static_cast<T*>(out));
  });
  JITGEN_CUDA_LAUNCHED();
}

void last_position(Storage s, const void* x, int64_t B, int64_t T, int64_t C, void* out, cudaStream_t st) {
  dispatch_storage(s, [&](auto t) {
    using E = decltype(t);
    last_position_kernel<<<B, row_threads(C), 0, st>>>(static_cast<const E*>(x), T, C, static_cast<E*>(out));
  });
  JITGEN_CUDA_LAUNCHED();
}

void mark_decode_slot(int32_t* key_mask, const int32_t* cache_pos, int64_t B, int64_t S, cudaStream_t st) {
  mark_decode_slot_kernel<<<blocks_for(B, 128), 128, 0, st>>>(key_mask, cache_pos, B, S);
  JITGEN_CUDA_LAUNCHED();
}

void gather_rows(const void* src, void* dst, const int32_t* rows, int64_t R, int64_t row_bytes, cudaStream_t st) {
  JITGEN_CHECK(row_bytes % 4 == 0 && R <= 65535);
  const int64_t words = row_bytes / 4;
  const dim3 grid(std::min<unsigned>(blocks_for(words, kThreads), 1024u), static_cast<unsigned>(R));
  gather_rows_kernel<<<grid, kThreads, 0, st>>>(static_cast<const int32_t*>(src), static_cast<int32_t*>(dst), rows,
                                                words);
  JITGEN_CUDA_LAUNCHED();
}

}  // namespace jitgen::cuda
