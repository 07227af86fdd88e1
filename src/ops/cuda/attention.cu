// Causal attention over the preallocated KV cache, per-row write slots (cache_pos [B]), from separate q / k / v rows
// (GPT-2's packed q | k | v is the case of one row with strides 3C), with KV <= H key/value heads (GQA, MQA) and an
// optional sliding window.
//
// Three launches: (1) write the T new keys/values of every row into the cache; (2) one block per
// (key chunk, query t, row*head) computes scores for its chunk, a chunk-local softmax (max m, sum l) and
// the weighted value sum; with one chunk it writes the output directly; (3) otherwise a combine pass
// merges the chunks (flash-decoding): o = sum_c exp(m_c - M) acc_c / sum_c exp(m_c - M) l_c.
// Masked keys (key_mask 0), keys past the causal limit and keys before the window never enter a softmax; a query
// that sees no key outputs zeros, as the CPU kernels do. Decode steps with grouped query heads (GQA / MQA,
// attention_group) replace (2) by the grouped kernel of attention_gqa.cu, which reads each KV head once per group;
// elsewhere query heads of one KV head are adjacent in blockIdx.z, so their blocks share that head through L2.
#include <math_constants.h>

#include <algorithm>

#include "ops/cuda/attention_parts.cuh"

namespace jitgen::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kMaxHeadDim = 256;

template <typename T>
__global__ void write_kv_kernel(const T* k, const T* v, int64_t k_stride, int64_t v_stride, T* k_cache, T* v_cache,
                                const int32_t* cache_pos, int64_t T_, int64_t S, int64_t KV, int64_t D) {
  const int64_t bt = blockIdx.x, b = bt / T_, t = bt % T_;
  const int64_t slot = cache_pos[b] + t;
  if (slot < 0 || slot >= S) return;  // the runner checks capacity before launching
  const T* k_row = k + bt * k_stride;
  const T* v_row = v + bt * v_stride;
  for (int64_t i = threadIdx.x; i < KV * D; i += blockDim.x) {
    const int64_t h = i / D, d = i % D;
    const int64_t at = ((b * KV + h) * S + slot) * D + d;
    k_cache[at] = k_row[i];
    v_cache[at] = v_row[i];
  }
}

template <typename T>
__global__ void attention_chunk_kernel(const T* q_in, int64_t q_stride, const T* k_cache, const T* v_cache,
                                       const int32_t* cache_pos, const int32_t* key_mask, int64_t T_, int64_t S,
                                       int64_t H, int64_t KV, int64_t D, int64_t window, float scale, int chunk_keys,
                                       T* out, float* ws) {
  extern __shared__ float smem[];  // [chunk_keys] scores, then [kThreads] partial sums, then [D] query
  float* scores = smem;
  float* partial = scores + chunk_keys;
  float* q = partial + blockDim.x;
  __shared__ float scratch[32];

  const int chunk = blockIdx.x, chunks = gridDim.x;
  const int64_t t = blockIdx.y, bh = blockIdx.z, b = bh / H, h = bh % H, C = H * D;
  const int64_t kvh = h / (H / KV);  // the KV head this query head reads
  const int64_t bht = (b * T_ + t) * H + h;
  const int64_t last = cache_pos[b] + t;  // causal: slots [first, last]
  const int64_t first = window > 0 && last - window + 1 > 0 ? last - window + 1 : 0;
  const int64_t j0 = static_cast<int64_t>(chunk) * chunk_keys;
  const int64_t j1 = j0 + chunk_keys < last + 1 ? j0 + chunk_keys : last + 1;
  const int64_t n = j1 > j0 ? j1 - j0 : 0;

  const T* q_row = q_in + (b * T_ + t) * q_stride + h * D;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) q[d] = load_f(q_row + d);
  __syncthreads();

  // Scores: one warp per key, lanes split the head dim.
  const T* kh = k_cache + (b * KV + kvh) * S * D;
  const T* vh = v_cache + (b * KV + kvh) * S * D;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t i = warp; i < n; i += warps) {
    const int64_t j = j0 + i;
    const bool visible = j >= first && key_mask[b * S + j];  // warp-uniform: one key per warp
    float dot = 0;
    if (visible) {
      for (int64_t d = lane; d < D; d += 32) dot += q[d] * load_f(kh + j * D + d);
      dot = warp_sum(dot);
    }
    if (lane == 0) scores[i] = visible ? dot * scale : -CUDART_INF_F;
  }
  __syncthreads();
  float mx = -CUDART_INF_F;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, scores[i]);
  mx = block_reduce(mx, scratch, MaxOp{}, -CUDART_INF_F);
  float sum = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {  // invisible keys: exp(-inf - mx) = 0
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

void attention_qkv(Storage s, const QkvInputs& in, void* k_cache, void* v_cache, const int32_t* cache_pos,
                   const int32_t* key_mask, const AttentionDims& d, float scale, void* out, void* workspace,
                   cudaStream_t st) {
  const int64_t KV = d.kv();
  JITGEN_CHECK(d.D <= kMaxHeadDim && d.B * d.H <= 65535 && d.T <= 65535 && KV >= 1 && d.H % KV == 0);
  const AttentionSplit split = attention_split(d);
  const size_t smem = (static_cast<size_t>(split.chunk_keys) + kThreads + d.D) * sizeof(float);
  JITGEN_CHECK(smem <= 48 * 1024);  // attention_split keeps prefill chunks within the default limit
  JITGEN_CHECK(split.chunks == 1 || workspace != nullptr);
  dispatch_storage(s, [&](auto tag) {
    using T = decltype(tag);
    T* k = static_cast<T*>(k_cache);
    T* v = static_cast<T*>(v_cache);
    write_kv_kernel<<<d.B * d.T, 256, 0, st>>>(static_cast<const T*>(in.k), static_cast<const T*>(in.v), in.k_stride,
                                               in.v_stride, k, v, cache_pos, d.T, d.S, KV, d.D);
    const dim3 grid(split.chunks, d.T, d.B * d.H);
    if (attention_group(d) > 1)  // decode with grouped query heads: each KV head read once (attention_gqa.cu)
      attention_grouped_chunks(s, in.q, in.q_stride, k, v, cache_pos, key_mask, d, split, scale, out,
                               static_cast<float*>(workspace), st);
    else
      attention_chunk_kernel<<<grid, kThreads, smem, st>>>(static_cast<const T*>(in.q), in.q_stride, k, v, cache_pos,
                                                         key_mask, d.T, d.S, d.H, KV, d.D, d.window, scale,
                                                         split.chunk_keys, static_cast<T*>(out),
                                                         static_cast<float*>(workspace));
    if (split.chunks > 1)
      attention_combine_kernel<<<dim3(d.T, d.B * d.H), 64, 0, st>>>(static_cast<const float*>(workspace),
                                                                     split.chunks, d.T, d.H, d.D, static_cast<T*>(out));
  });
  JITGEN_CUDA_LAUNCHED();
}

void attention(Storage s, const void* qkv, void* k_cache, void* v_cache, const int32_t* cache_pos,
               const int32_t* key_mask, const AttentionDims& d, float scale, void* out, void* workspace,
               cudaStream_t st) {
  JITGEN_CHECK(d.kv() == d.H && d.window == 0);
  const int64_t C = d.H * d.D;
  const char* row = static_cast<const char*>(qkv);
  const size_t part = static_cast<size_t>(C) * storage_bytes(s);  // q | k | v within one row of 3C
  attention_qkv(s, QkvInputs{row, row + part, row + 2 * part, 3 * C, 3 * C, 3 * C}, k_cache, v_cache, cache_pos,
                key_mask, d, scale, out, workspace, st);
}

}  // namespace jitgen::cuda
