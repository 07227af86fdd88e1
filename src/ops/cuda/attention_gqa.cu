// Grouped-query decode attention (issue 16: "each KV head read once per group"). The per-head kernel (attention.cu)
// runs one block per query head, so a KV head's keys and values are fetched H / KV times (from L2 at best); here one
// block per (key chunk, row, KV head) holds the group's queries in shared memory and reads every key and value once:
//   scores: one warp per key, lanes split the head dim, each K element multiplies all G queries;
//   softmax: one warp per query of the group over the chunk's scores;
//   values: threads split (d, key subset) as in the per-head kernel, each V element weighted for all G queries.
// Same visibility rules (key mask, causal limit cache_pos[b], sliding window) and the same partial layout, so the
// combine pass of attention.cu merges the chunks. T = 1 only (prefill keeps the per-head kernel: there the queries
// of a block already reuse each key T times).
#include <math_constants.h>

#include "ops/cuda/attention_parts.cuh"

namespace jitgen::cuda {

namespace {

constexpr int kThreads = 128;

template <int kMaxGroup, typename T>
__global__ void attention_grouped_kernel(const T* q_in, int64_t q_stride, const T* k_cache, const T* v_cache,
                                         const int32_t* cache_pos, const int32_t* key_mask, int64_t S, int64_t H,
                                         int64_t KV, int64_t D, int64_t window, float scale, int chunk_keys, T* out,
                                         float* ws) {
  extern __shared__ float smem[];
  const int64_t G = H / KV;
  const int64_t wide = D > kThreads ? D : kThreads;
  float* q = smem;                        // [G][D]
  float* scores = q + G * D;              // [G][chunk_keys]
  float* partial = scores + G * chunk_keys;  // [G][wide]: value sums per key subset
  float* stats = partial + G * wide;      // [G] max, then [G] sum

  const int chunk = blockIdx.x, chunks = gridDim.x;
  const int64_t bk = blockIdx.z, b = bk / KV, kvh = bk % KV;
  const int64_t last = cache_pos[b];  // the decode token's slot: causal limit
  const int64_t first = window > 0 && last - window + 1 > 0 ? last - window + 1 : 0;
  const int64_t j0 = static_cast<int64_t>(chunk) * chunk_keys;
  const int64_t j1 = j0 + chunk_keys < last + 1 ? j0 + chunk_keys : last + 1;
  const int64_t n = j1 > j0 ? j1 - j0 : 0;

  const T* q_row = q_in + b * q_stride + kvh * G * D;  // the group's query heads are adjacent
  for (int64_t e = threadIdx.x; e < G * D; e += blockDim.x) q[e] = load_f(q_row + e);
  __syncthreads();

  const T* kh = k_cache + (b * KV + kvh) * S * D;
  const T* vh = v_cache + (b * KV + kvh) * S * D;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t i = warp; i < n; i += warps) {
    const int64_t j = j0 + i;
    const bool visible = j >= first && key_mask[b * S + j];  // warp-uniform
    float dot[kMaxGroup];
#pragma unroll
    for (int g = 0; g < kMaxGroup; ++g) dot[g] = 0.0f;
    if (visible) {
      for (int64_t d = lane; d < D; d += 32) {
        const float kv = load_f(kh + j * D + d);
#pragma unroll
        for (int g = 0; g < kMaxGroup; ++g)
          if (g < G) dot[g] += q[g * D + d] * kv;
      }
#pragma unroll
      for (int g = 0; g < kMaxGroup; ++g) dot[g] = warp_sum(dot[g]);
    }
    if (lane == 0) {
#pragma unroll
      for (int g = 0; g < kMaxGroup; ++g)  // constant indices keep dot[] in registers
        if (g < G) scores[g * chunk_keys + i] = visible ? dot[g] * scale : -CUDART_INF_F;
    }
  }
  __syncthreads();

  for (int64_t g = warp; g < G; g += warps) {  // softmax numerators per query, one warp each
    float* sg = scores + g * chunk_keys;
    float mx = -CUDART_INF_F;
    for (int64_t i = lane; i < n; i += 32) mx = fmaxf(mx, sg[i]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int64_t i = lane; i < n; i += 32) {  // invisible keys: exp(-inf - mx) = 0
      const float p = mx == -CUDART_INF_F ? 0.0f : expf(sg[i] - mx);
      sg[i] = p;
      sum += p;
    }
    sum = warp_sum(sum);
    if (lane == 0) {
      stats[g] = mx;
      stats[G + g] = sum;
    }
  }
  __syncthreads();

  const int64_t subsets = D <= blockDim.x ? blockDim.x / D : 1;  // key subsets summed at the end
  for (int64_t e = threadIdx.x; e < subsets * D; e += blockDim.x) {
    const int64_t d = e % D, sub = e / D;
    float acc[kMaxGroup];
#pragma unroll
    for (int g = 0; g < kMaxGroup; ++g) acc[g] = 0.0f;
    for (int64_t i = sub; i < n; i += subsets) {
      const float vv = load_f(vh + (j0 + i) * D + d);
#pragma unroll
      for (int g = 0; g < kMaxGroup; ++g)
        if (g < G) acc[g] += scores[g * chunk_keys + i] * vv;
    }
#pragma unroll
    for (int g = 0; g < kMaxGroup; ++g)
      if (g < G) partial[g * wide + sub * D + d] = acc[g];
  }
  __syncthreads();

  for (int64_t e = threadIdx.x; e < G * D; e += blockDim.x) {
    const int64_t g = e / D, d = e % D, h = kvh * G + g;
    float acc = 0.0f;
    for (int64_t sub = 0; sub < subsets; ++sub) acc += partial[g * wide + sub * D + d];
    const float mx = stats[g], sum = stats[G + g];
    if (chunks == 1) {
      store_f(out + b * H * D + h * D + d, mx == -CUDART_INF_F ? 0.0f : acc / sum);
    } else {
      float* p = partial_at(ws, b * H + h, chunk, chunks, D);
      if (d == 0) {
        p[0] = mx;
        p[1] = sum;
      }
      p[2 + d] = acc;
    }
  }
}

template <int kMaxGroup, typename T>
void launch(const void* q, int64_t q_stride, const void* k_cache, const void* v_cache, const int32_t* cache_pos,
            const int32_t* key_mask, const AttentionDims& d, const AttentionSplit& split, float scale, void* out,
            float* ws, cudaStream_t st) {
  const size_t smem = attention_grouped_smem_bytes(d, split.chunk_keys);
  attention_grouped_kernel<kMaxGroup, T><<<dim3(split.chunks, 1, d.B * d.kv()), kThreads, smem, st>>>(
      static_cast<const T*>(q), q_stride, static_cast<const T*>(k_cache), static_cast<const T*>(v_cache), cache_pos,
      key_mask, d.S, d.H, d.kv(), d.D, d.window, scale, split.chunk_keys, static_cast<T*>(out), ws);
}

}  // namespace

void attention_grouped_chunks(Storage s, const void* q, int64_t q_stride, const void* k_cache, const void* v_cache,
                              const int32_t* cache_pos, const int32_t* key_mask, const AttentionDims& d,
                              const AttentionSplit& split, float scale, void* out, float* ws, cudaStream_t st) {
  const int64_t G = attention_group(d);
  JITGEN_CHECK(G > 1 && G <= kMaxAttentionGroup && d.T == 1 && d.B * d.kv() <= 65535);
  JITGEN_CHECK(attention_grouped_smem_bytes(d, split.chunk_keys) <= 48 * 1024);
  dispatch_storage(s, [&](auto tag) {
    using T = decltype(tag);
    if (G <= 2) launch<2, T>(q, q_stride, k_cache, v_cache, cache_pos, key_mask, d, split, scale, out, ws, st);
    else if (G <= 4) launch<4, T>(q, q_stride, k_cache, v_cache, cache_pos, key_mask, d, split, scale, out, ws, st);
    else if (G <= 8) launch<8, T>(q, q_stride, k_cache, v_cache, cache_pos, key_mask, d, split, scale, out, ws, st);
    else launch<16, T>(q, q_stride, k_cache, v_cache, cache_pos, key_mask, d, split, scale, out, ws, st);
  });
  JITGEN_CUDA_LAUNCHED();
}

}  // namespace jitgen::cuda
