#pragma once
// Shared by attention.cu (per-head kernel, combine pass) and attention_gqa.cu (grouped decode kernel).
#include "ops/cuda/common.cuh"

namespace jitgen::cuda {

// Flash-decoding partial results of one (b, h, t, chunk): m, l, then D accumulator values.
__device__ __forceinline__ float* partial_at(float* ws, int64_t bht, int chunk, int chunks, int64_t D) {
  return ws + (bht * chunks + chunk) * (D + 2);
}

// Decode attention with each KV head read once for its group of H / KV query heads (attention_group(d) > 1): one
// block per (key chunk, row, KV head). Writes `out` directly with one chunk, else the partials the combine pass reads.
// The new keys and values are already in the cache.
void attention_grouped_chunks(Storage s, const void* q, int64_t q_stride, const void* k_cache, const void* v_cache,
                              const int32_t* cache_pos, const int32_t* key_mask, const AttentionDims& d,
                              const AttentionSplit& split, float scale, void* out, float* ws, cudaStream_t st);

}  // namespace jitgen::cuda
