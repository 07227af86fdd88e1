#pragma once
// The KV cache of one generation: per layer K and V [B, KV, S, D] (KV = the model's key/value heads), plus the key mask [B, S] (1 = a real
// token in that slot). The compiled runner preallocates it for its capacity bucket; the eager runner
// grows it step by step (grow_to), like HF's DynamicCache concatenating each step's keys.
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "models/spec.h"

namespace jitgen {

// Checks a request before anything is allocated: rows >= 1, capacity within the position table, and the
// whole KV cache within memory. Throws kInvalidArgument / kLimit.
void check_request(const ModelSpec& c, int rows, int capacity);

struct KvCache {
  KvCache(const ModelSpec& c, int rows, int capacity);
  // Beam search: row r becomes old row src[r] (K, V and key mask).
  void reorder(const std::vector<int>& src);
  // Reallocates every buffer with `new_capacity` slots, keeping the filled ones.
  void grow_to(int new_capacity);

  const ModelSpec& config;
  int rows, capacity;
  std::vector<Tensor> k, v;  // per layer [B, KV, S, D]
  Tensor key_mask;           // [B, S] i32
};

// Checks one step's inputs against the model and the cache, then packs them: ids and positions into
// [B, T] i32 tensors, the new tokens' mask into key_mask slots [length, length + T).
struct PackedStep {
  Tensor ids, positions;  // [B, T] i32
};
PackedStep pack_step(const ModelSpec& c, KvCache& cache, int length,
                     const std::vector<std::vector<int32_t>>& ids, const std::vector<std::vector<int32_t>>& positions,
                     const std::vector<std::vector<int32_t>>& mask_new);

}  // namespace jitgen
