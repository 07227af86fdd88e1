#pragma once
// EagerStepRunner: the eager StepRunner — runs the one GPT-2 definition op by op over a preallocated KV cache.
#include <cstdint>
#include <vector>

#include "models/step_runner.h"

namespace jitgen {

class EagerStepRunner final : public StepRunner {
 public:
  // rows = B, capacity = S (prompt + new tokens). Throws kLimit when S exceeds n_positions.
  EagerStepRunner(const Model& model, int rows, int capacity);

  Tensor step(const std::vector<std::vector<int32_t>>& ids, const std::vector<std::vector<int32_t>>& positions,
              const std::vector<std::vector<int32_t>>& mask_new, bool last_only) override;
  void reorder(const std::vector<int>& src) override;
  int rows() const override { return rows_; }
  int capacity() const override { return capacity_; }
  int length() const override { return length_; }

 private:
  Model model_;  // shares the immutable weights
  int rows_, capacity_, length_ = 0;
  std::vector<Tensor> k_cache_, v_cache_;  // per layer [B, H, S, D]
  Tensor key_mask_;                        // [B, S] i32
};

}  // namespace jitgen
