#pragma once
// CompiledStepRunner: traces the one GPT-2 definition once per shape bucket (TracingBuilder), compiles
// it (passes, memory plan, bound kernels) through the model's CompileCache, and replays it.
//
// Buckets: a prefill of T tokens runs as round_up(T, prompt_bucket) tokens, the extra ones left pads
// masked out (HF-exact: masked slots never enter a softmax); the KV capacity is the next power of two
// (>= 64) that fits, capped at n_positions. Decode steps are T = 1. So prompts of lengths 4 and 5 share
// one prefill plan, and a longer request moves to a larger capacity bucket — never writes out of bounds.
// After the first decode step, decode() allocates nothing: inputs, arena and KV cache are bound once.
#include <memory>
#include <string>
#include <vector>

#include "graph/compile_cache.h"
#include "exec/kv_cache.h"
#include "exec/step_runner.h"

namespace jitgen {

class CompiledStepRunner final : public StepRunner {
 public:
  CompiledStepRunner(const Model& model, int rows, int capacity, int prompt_bucket);

  // Logits of last_only steps are a view into this runner's arena: valid until the next step.
  Tensor step(const std::vector<std::vector<int32_t>>& ids, const std::vector<std::vector<int32_t>>& positions,
              const std::vector<std::vector<int32_t>>& mask_new, bool last_only) override;
  const Tensor& decode(const int32_t* tokens, const int32_t* positions) override;
  void reorder(const std::vector<int>& src) override { cache_->reorder(src); }
  bool set_select(TokenSelect* select, const std::string& kind) override;
  int rows() const override { return rows_; }
  int capacity() const override { return requested_capacity_; }
  int length() const override { return length_; }
  RunnerStats stats() const override { return stats_; }
  void set_profiling(bool on) override { profiling_ = on; }
  OpProfile profile() const override;

  // The KV capacity bucket for a request of `needed` slots on a model with n_positions.
  static int capacity_bucket(int needed, int n_positions);

 private:
  // One compiled plan bound to this runner's buffers: its inputs never move, so a run only writes them.
  struct Bound {
    int step_tokens = 0;
    bool last_only = true;
    std::shared_ptr<const Executable> exe;
    Tensor ids, positions;  // [B, step_tokens] i32
    RunContext ctx;
    Tensor logits;  // last_only plans: a view of the output in the arena, [B, 1, V] (tokens [B] i32 with a select)
    std::vector<double> kernel_ms;  // profiling
  };
  Bound& bind(int step_tokens, bool last_only);
  void ensure_cache(int pad);
  const float* run(Bound& b);
  Tensor output_view(const Bound& b) const;

  Model model_;
  int rows_, requested_capacity_, prompt_bucket_;
  std::unique_ptr<KvCache> cache_;  // allocated at the first step, once the prefill padding is known
  int length_ = 0;                  // steps fed by the caller
  int slots_ = 0;                   // cache slots used (length_ + prefill padding)
  Tensor cache_pos_;                // [B] i32: the write slot of the running step
  Tensor arena_storage_;            // 64-byte aligned, grown to the largest plan this runner has run
  size_t arena_bytes_ = 0;
  std::vector<std::unique_ptr<Bound>> bound_;
  Bound* decode_ = nullptr;
  bool profiling_ = false;
  TokenSelect* select_ = nullptr;
  std::string select_kind_;
  RunnerStats stats_;
};

}  // namespace jitgen
