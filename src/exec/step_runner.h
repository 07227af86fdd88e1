#pragma once
// StepRunner: what the generation loop drives, one model step at a time, over a preallocated KV cache.
// Two implementations from the one model definition: eager (EagerStepRunner, op by op) and compiled (a cached
// executable per shape bucket). The loop never knows which.
//
// Slot s of the cache holds the token fed at step s of every row (left pads included, masked out), so
// all rows share one write position — the layout HF uses for left-padded batches.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "graph/builder.h"
#include "jitgen/model.h"
#include "jitgen/runtime.h"

namespace jitgen {

// Compile-cache activity and time spent, accumulated over a runner's steps.
struct RunnerStats {
  int cache_hits = 0, cache_misses = 0;
  double compile_ms = 0;
  double run_ms = 0;  // wall time inside step()/decode(), compile excluded only when it was a hit
  int64_t steps = 0;
};

// Where a compiled step's time goes, per kernel kind (the executor's own profile).
struct OpProfile {
  struct Row {
    std::string label;  // e.g. "linear+act", "attention"
    int64_t calls = 0;
    double ms = 0;
  };
  std::vector<Row> rows;  // sorted by time, largest first
  double kernel_ms = 0;   // sum over kernels
  double step_ms = 0;     // wall time of the runner's steps: kernels + dispatch + bookkeeping
  int64_t steps = 0;
};

// HF prepare_inputs_for_generation's position ids for a (left-padded) row: cumsum(mask) - 1, pads at 1.
// Returns the position of the row's next token.
int prompt_positions(const std::vector<int32_t>& mask, std::vector<int32_t>& positions);

class StepRunner {
 public:
  virtual ~StepRunner() = default;
  // Feeds T new tokens per row. ids/positions/mask_new are [B][T] (mask 1 = real token; appended to the
  // key mask). Returns logits [B, T, V], or [B, 1, V] with last_only.
  virtual Tensor step(const std::vector<std::vector<int32_t>>& ids, const std::vector<std::vector<int32_t>>& positions,
                      const std::vector<std::vector<int32_t>>& mask_new, bool last_only) = 0;
  // One decode step (T = 1, every row's token real): tokens and positions are [B]. Returns logits
  // [B, 1, V], valid until the next step (a reference, so that the compiled step allocates nothing).
  virtual const Tensor& decode(const int32_t* tokens, const int32_t* positions);
  // Beam search: row r of the cache (and key mask) becomes old row src[r].
  virtual void reorder(const std::vector<int>& src) = 0;
  // Traces the token choice into the step (Builder::select_tokens): step(last_only) and decode() then return
  // the chosen tokens [B] i32 instead of logits. `kind` ("greedy" / "sample") goes into the compile key; the
  // processors and their values live in `select` (runtime state, outlives the steps). Returns false when this
  // runner cannot trace it (the caller then chooses on the host from the logits).
  virtual bool set_select(TokenSelect* select, const std::string& kind) { return false; }
  virtual int rows() const = 0;
  virtual int capacity() const = 0;
  virtual int length() const = 0;
  virtual RunnerStats stats() const { return {}; }
  // Per-kernel timing of compiled steps (eager runners have no kernels to report).
  virtual void set_profiling(bool) {}
  virtual OpProfile profile() const { return {}; }

 private:
  Tensor decoded_;  // the default decode()'s result
};

// rows = B, capacity = S (prompt + new tokens). Throws kLimit when S exceeds n_positions.
// prompt_bucket: compiled prefill lengths are rounded up to a multiple of it (HF's pad_to_multiple_of).
// Device::kCuda (JITGEN_CUDA builds): a CudaStepRunner, compiled = fused + CUDA graphs, eager = op by op;
// storage from JITGEN_CUDA_DTYPE (f32 default). Throws kInvalidArgument without CUDA support or a GPU.
std::unique_ptr<StepRunner> make_step_runner(const Model& model, int rows, int capacity, ExecutionMode mode,
                                             int prompt_bucket = 8, Device device = default_device());


}  // namespace jitgen
