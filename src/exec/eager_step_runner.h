#pragma once
// EagerStepRunner: runs the model's one definition op by op (EagerBuilder): every op allocates its
// output, no fusion, and the KV cache grows by the step's tokens each step (HF DynamicCache). The
// reference execution mode — an honest eager engine, not slowed on purpose.
#include <cstdint>
#include <vector>

#include "exec/kv_cache.h"
#include "exec/step_runner.h"

namespace jitgen {

class EagerStepRunner final : public StepRunner {
 public:
  EagerStepRunner(const Model& model, int rows, int capacity);

  Tensor step(const std::vector<std::vector<int32_t>>& ids, const std::vector<std::vector<int32_t>>& positions,
              const std::vector<std::vector<int32_t>>& mask_new, bool last_only) override;
  void reorder(const std::vector<int>& src) override { cache_.reorder(src); }
  bool set_select(TokenSelect* select, const std::string& kind) override {
    select_ = select;
    beam_ = kind == "beam";
    return true;
  }
  int rows() const override { return cache_.rows; }
  int capacity() const override { return max_capacity_; }
  int length() const override { return length_; }

 private:
  Model model_;  // shares the immutable weights
  KvCache cache_;
  int max_capacity_;
  int length_ = 0;
  TokenSelect* select_ = nullptr;
  bool beam_ = false;
};

}  // namespace jitgen
