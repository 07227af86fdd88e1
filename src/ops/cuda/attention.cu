// Causal attention over the preallocated KV cache, per-row write slots (cache_pos [B]).
//
// Three launches: (1) write the T new keys/values of every row into the cache; (2) one block per
// (key chunk, query t, row*head) computes scores for its chunk, a chunk-local softmax (max m, sum l) and
// the weighted value sum; with one chunk it writes the output directly; (3) otherwise a combine pass
// merges the chunks (flash-decoding): o = sum_c exp(m_c - M) acc_c / sum_c exp(m_c - M) l_c.
// Masked keys (key_mask 0) and keys past the causal limit never enter a softmax; a query that sees no key
// outputs zeros, as the CPU kernels do.
#include <math_constants.h>

#include <algorithm>

#include "ops/cuda/common.cuh"

namespace jitgen::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kMaxHeadDim = 256;

template <typename T>
__global__ void write_kv_kernel(const T* qkv, T* k_cache, T* v_cache, const int32_t* cache_pos, int64_t T_,
                                int64_t S, int64_t H, int64_t D) {
  const int64_t bt = blockIdx.x, b = bt / T_, t = bt % T_, C = H * D;
  const int64_t slot = cache_pos[b] + t;
  if (slot < 0 || slot >= S) return;  // the runner checks capacity before launching
  const T* row = qkv + bt * 3 * C;
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
    const int64_t h = i / D, d = i % D;
    const int64_t at = ((b * H + h) * S + slot) * D + d;
    k_cache[at] = row[C + i];
    v_cache[at] = row[2 * C + i];
  }
}

// Partial results of one (b, h, t, chunk): m, l, then D accumulator values.
__device__ __forceinline__ float* partial_at(float* ws, int64_t bht, int chunk, int chunks, int64_t D) {
  return ws + (bht * chunks + chunk) * (D + 2);
}

template <typename T>
__global__ void attention_chunk_kernel(const T* qkv, const T* k_cache, const T* v_cache, const int32_t* cache_pos,
                                       const int32_t* key_mask, int64_t T_, int64_t S, int64_t H, int64_t D,
                                       float scale, int chunk_keys, T* out, float* ws) {
  extern __shared__ float smem[];  // [chunk_keys] scores, then [kThreads] partial sums, then [D] query
  float* scores = smem;
  float* partial = scores + chunk_keys;
  float* q = partial + blockDim.x;
  __shared__ float scratch[32];

  const int chunk = blockIdx.x, chunks = gridDim.x;
  const int64_t t = blockIdx.y, bh = blockIdx.z, b = bh / H, h = bh % H, C = H * D;
  const int64_t bht = (b * T_ + t) * H + h;
  const int64_t last = cache_pos[b] + t;  // causal: slots [0, last]
  const int64_t j0 = static_cast<int64_t>(chunk) * chunk_keys;
  const int64_t j1 = j0 + chunk_keys < last + 1 ? j0 + chunk_keys : last + 1;
  const int64_t n = j1 > j0 ? j1 - j0 : 0;

  const T* q_row = qkv + (b * T_ + t) * 3 * C + h * D;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) q[d] = load_f(q_row + d);
  __syncthreads();

  // Scores: one warp per key, lanes split the head dim.
  const T* kh = k_cache + bh * S * D;
  const T* vh = v_cache + bh * S * D;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t i = warp; i < n; i += warps) {
    const int64_t j = j0 + i;
    float dot = 0;
    if (key_mask[b * S + j]) {
      for (int64_t d = lane; d < D; d += 32) dot += q[d] * load_f(kh + j * D + d);
      dot = warp_sum(dot);
    }
    if (lane == 0) scores[i] = key_mask[b * S + j] ? dot * scale : -CUDART_INF_F;
  }
  __syncthreads();
  float mx = -CUDART_INF_F;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, scores[i]);
  mx = block_reduce(mx, scratch, MaxOp{}, -CUDART_INF_F);
  float sum = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float p = mx == -CUDART_INF_F ? 0.0f : expf(scores[i] - mx);
    scores[i] = p;
    sum += p;
  }
  sum = block_reduce(sum, scratch, SumOp{}, 0.0f);  // also a barrier: scores are complete

  // Weighted values: groups of D threads split the keys, then the groups are summed. A head dim wider than
  // the block (D > 128) takes the direct loop instead.
  const bool grouped = D <= blockDim.x;
  const int64_t groups = grouped ? blockDim.x / D : 1;
  if (grouped) {
    for (int64_t e = threadIdx.x; e < groups * D; e += blockDim.x) {
      const int64_t d = e % D, g = e / D;
      float acc = 0;
      for (int64_t i = g; i < n; i += groups) acc += scores[i] * load_f(vh + (j0 + i) * D + d);
      partial[e] = acc;
    }
  }
  __syncthreads();
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0;
    if (grouped) {
      for (int64_t g = 0; g < groups; ++g) acc += partial[g * D + d];
    } else {
      for (int64_t i = 0; i < n; ++i) acc += scores[i] * load_f(vh + (j0 + i) * D + d);
    }
    if (chunks == 1) {
      store_f(out + (b * T_ + t) * C + h * D + d, mx == -CUDART_INF_F ? 0.0f : acc / sum);
    } else {
      float* p = partial_at(ws, bht, chunk, chunks, D);
      if (d == 0) {
        p[0] = mx;
        p[1] = sum;
      }
      p[2 + d] = acc;
    }
  }
}

template <typename T>
__global__ void attention_combine_kernel(const float* ws, int chunks, int64_t T_, int64_t H, int64_t D, T* out) {
  const int64_t t = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H;
  const int64_t bht = (b * T_ + t) * H + h;
  float M = -CUDART_INF_F;
  for (int c = 0; c < chunks; ++c) M = fmaxf(M, partial_at(const_cast<float*>(ws), bht, c, chunks, D)[0]);
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float l = 0, acc = 0;
    if (M != -CUDART_INF_F) {
      for (int c = 0; c < chunks; ++c) {
        const float* p = partial_at(const_cast<float*>(ws), bht, c, chunks, D);
        if (p[0] == -CUDART_INF_F) continue;
        const float w = expf(p[0] - M);
        l += w * p[1];
        acc += w * p[2 + d];
      }
    }
    store_f(out + (b * T_ + t) * H * D + h * D + d, M == -CUDART_INF_F ? 0.0f : acc / l);
  }
}

}  // namespace

void attention(Storage s, const void* qkv, void* k_cache, void* v_cache, const int32_t* cache_pos,
               const int32_t* key_mask, const AttentionDims& d, float scale, void* out, void* workspace,
               cudaStream_t st) {
  JITGEN_CHECK(d.D <= kMaxHeadDim && d.B * d.H <= 65535 && d.T <= 65535);
  const AttentionSplit split = attention_split(d);
  const size_t smem = (static_cast<size_t>(split.chunk_keys) + kThreads + d.D) * sizeof(float);
  JITGEN_CHECK(smem <= 48 * 1024);  // attention_split keeps prefill chunks within the default limit
  JITGEN_CHECK(split.chunks == 1 || workspace != nullptr);
  dispatch_storage(s, [&](auto tag) {
    using T = decltype(tag);
    const T* q = static_cast<const T*>(qkv);
    T* k = static_cast<T*>(k_cache);
    T* v = static_cast<T*>(v_cache);
    write_kv_kernel<<<d.B * d.T, 256, 0, st>>>(q, k, v, cache_pos, d.T, d.S, d.H, d.D);
    const dim3 grid(split.chunks, d.T, d.B * d.H);
    attention_chunk_kernel<<<grid, kThreads, smem, st>>>(q, k, v, cache_pos, key_mask, d.T, d.S, d.H, d.D, scale,
                                                         split.chunk_keys, static_cast<T*>(out),
                                                         static_cast<float*>(workspace));
    if (split.chunks > 1)
      attention_combine_kernel<<<dim3(d.T, d.B * d.H), 64, 0, st>>>(static_cast<const float*>(workspace),
                                                                     split.chunks, d.T, d.H, d.D, static_cast<T*>(out));
  });
  JITGEN_CUDA_LAUNCHED();
}

}  // namespace jitgen::cuda
