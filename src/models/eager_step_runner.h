#pragma once
// KvSession: runs the one GPT-2 definition step by step in eager mode over a preallocated KV cache.
// Slot s of the cache holds the token at step s of every row (left pads included, masked out), so all
// rows share one write position — the layout HF uses for left-padded batches.
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "jitgen/model.h"

namespace jitgen {

class KvSession {
 public:
  // rows = B, capacity = S (prompt + new tokens). Throws kLimit when S exceeds n_positions.
  KvSession(const Model& model, int rows, int capacity);

  // Feeds T new tokens per row. ids/positions are [B][T]; mask_new is [B][T] (1 = real token) and is
  // appended to the key mask. Returns logits [B, T, V] (or [B, 1, V] with last_only).
  Tensor step(const std::vector<std::vector<int32_t>>& ids, const std::vector<std::vector<int32_t>>& positions,
              const std::vector<std::vector<int32_t>>& mask_new, bool last_only);

  // Beam search: row r of the cache (and key mask) becomes old row src[r].
  void reorder(const std::vector<int>& src);

  int rows() const { return rows_; }
  int capacity() const { return capacity_; }
  int length() const { return length_; }

 private:
  Model model_;  // shares the immutable weights
  int rows_, capacity_, length_ = 0;
  std::vector<Tensor> k_cache_, v_cache_;  // per layer [B, H, S, D]
  Tensor key_mask_;                        // [B, S] i32
};

}  // namespace jitgen
