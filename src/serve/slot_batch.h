#pragma once
// SlotBatch: the model side of continuous batching. A fixed number of slots share one preallocated KV cache
// ([slots, H, S, D] per layer); each slot holds one sequence at its own length (its own KV write slot, see
// Builder::attention). Sequences join (prefill into a free slot) and leave (release) between decode steps,
// and one compiled decode plan for (slots, 1, S) serves every step whoever is in the batch: requests coming
// and going never recompile. A slot's prefill runs a (1, prompt bucket, S) plan directly on that slot's rows
// of the shared cache (row b of [B, H, S, D] is one contiguous block), so joining copies nothing.
//
// Not thread-safe: one scheduler thread drives it. Row results are exactly those of the same sequence
// generated alone (the attention of a row reads only that row; matmuls compute rows independently).
#include <cstdint>
#include <memory>
#include <vector>

#include "graph/executable.h"
#include "exec/kv_cache.h"
#include "exec/step_runner.h"

namespace jitgen {

class SlotBatch {
 public:
  // Throws kLimit when `capacity` exceeds the position table or the cache does not fit in memory.
  SlotBatch(const Model& model, int slots, int capacity, int prompt_bucket = 8);
  ~SlotBatch();

  int slots() const { return slots_; }
  int capacity() const { return capacity_; }
  bool busy(int slot) const { return length_[slot] > 0; }
  int length(int slot) const { return length_[slot]; }  // cache slots used, prefill padding included
  int tokens(int slot) const { return tokens_[slot]; }  // real tokens fed

  // Feeds a prompt (no pads; positions 0..n-1) into a free slot. Returns the logits of its last position, [V];
  // with all_logits, every prompt position's logits, [n, V] (echo with logprobs). Valid until the next call.
  const float* prefill(int slot, const std::vector<int32_t>& ids, bool all_logits = false);
  // Slot dst (free) becomes a copy of slot src: choices of one prompt share its prefill.
  void fork(int src, int dst);
  // One step for every slot s with feed[s]: token[s] at the slot's next position. Slots not fed are untouched
  // (their logits rows are garbage). Returns logits [slots, V], valid until the next call.
  const float* decode(const std::vector<int32_t>& token, const std::vector<uint8_t>& feed);
  // Frees the slot (its key mask is cleared, so a later occupant never attends to stale keys).
  void release(int slot);

  RunnerStats stats() const { return stats_; }

 private:
  struct Plan;
  Plan& plan(int rows, int step_tokens, bool last_only);
  void check_slot(int slot) const;

  Model model_;
  int slots_, capacity_, prompt_bucket_;
  KvCache cache_;
  std::vector<int> length_, tokens_;  // per slot
  Tensor ids_, positions_, cache_pos_;  // decode inputs: [slots, 1], [slots, 1], [slots]
  Tensor prefill_ids_, prefill_pos_, prefill_cache_pos_;
  Tensor arena_;
  std::vector<std::unique_ptr<Plan>> plans_;
  Plan* decode_ = nullptr;
  RunnerStats stats_;
};

}  // namespace jitgen
