#pragma once
// CudaStepRunner: the StepRunner on a GPU (JITGEN_CUDA builds). It traces the one GPT-2 definition like the
// compiled CPU runner (same buckets: prefill lengths rounded up to prompt_bucket with masked left pads, KV
// capacity rounded up to a power of two), binds the graph to CUDA kernels (ops/cuda/cuda_executable.h) and
// keeps the KV cache on the device.
//
// Two modes, for the post's eager-vs-compiled experiment on one engine:
//   graphs = true  (compiled): fused plan; the decode step (input copies from pinned staging, key-mask
//                  update, every kernel, the logits copy back) is captured once as a CUDA graph and replayed;
//                  greedy_loop() runs the whole greedy decode as one graph with a conditional WHILE node.
//   graphs = false (eager):    unfused plan, one launch per op from the host every step, no CUDA graph.
// Logits come back to pinned host memory as fp32 [B, 1, V] (valid until the next step), so the generation
// loop, its logits processors and samplers run unchanged on top.
#include <functional>
#include <memory>
#include <vector>

#include "models/model_impl.h"
#include "exec/step_runner.h"
#include "ops/cuda/cuda_executable.h"
#include "ops/cuda/kernels.h"
#include "runtime/cuda_runtime.h"

namespace jitgen {

class CudaModelState;
struct CudaDecodeLoop;

struct CudaRunnerOptions {
  cuda::Storage storage = cuda::Storage::kF32;
  bool graphs = true;
  int prompt_bucket = 8;
};

// JITGEN_CUDA_DTYPE=f32|f16|bf16 (default f32): the storage make_step_runner uses for Device::kCuda.
cuda::Storage cuda_storage_from_env();

// What make_step_runner returns for Device::kCuda: a runner from the model's pool (or a new one) that goes back
// to the pool, reset, when the returned handle dies. JITGEN_CUDA_POOL=0 disables the reuse.
std::unique_ptr<StepRunner> make_cuda_step_runner(const Model& model, int rows, int capacity,
                                                  const CudaRunnerOptions& options);

// The device-side greedy loop (greedy_loop): HF greedy without logits processors.
struct GreedyLoopOptions {
  int max_new_tokens = 20;
  std::vector<int32_t> eos;  // empty: never finishes early and never pads
  int32_t pad = 0;
  bool one_graph = true;  // false: one decode() (a graph replay in compiled mode) per token, host-driven
  // Called from the host thread as tokens arrive (streaming): step index and the R tokens of that step.
  std::function<void(int step, const int32_t* tokens)> on_step;
};
struct GreedyLoopResult {
  std::vector<std::vector<int32_t>> tokens;  // [R][steps]
  int steps = 0;
  bool one_graph = false;  // false: the per-step fallback ran (the conditional graph could not be built)
};

// Make it through make_step_runner / make_cuda_step_runner; `model` must outlive the runner.
class CudaStepRunner final : public StepRunner {
 public:
  CudaStepRunner(const Model& model, int rows, int capacity, const CudaRunnerOptions& options);
  ~CudaStepRunner() override;

  Tensor step(const std::vector<std::vector<int32_t>>& ids, const std::vector<std::vector<int32_t>>& positions,
              const std::vector<std::vector<int32_t>>& mask_new, bool last_only) override;
  const Tensor& decode(const int32_t* tokens, const int32_t* positions) override;
  void reorder(const std::vector<int>& src) override;
  int rows() const override { return rows_; }
  int capacity() const override { return requested_capacity_; }
  int length() const override { return length_; }
  RunnerStats stats() const override { return stats_; }

  // Greedy decoding on the device after a prefill step(): the first token comes from the prefill logits,
  // then up to max_new_tokens - 1 decode steps, all inside one CUDA graph launch. next_positions [R]: the
  // position of each row's first new token.
  GreedyLoopResult greedy_loop(const std::vector<int32_t>& next_positions, const GreedyLoopOptions& options);

  // Starts a new generation on the same buffers, plans and captured graphs (the runner pool's reuse): the
  // KV cache is logically emptied (key mask cleared), nothing is freed or re-captured.
  void reset();
  const CudaRunnerOptions& options() const { return options_; }

  // CUDA graph launches so far (decode steps replayed + loop launches); 0 in eager mode.
  int64_t graph_launches() const;
  // Runners constructed in this process (tests use it to prove a generate() call ran on the GPU).
  static int64_t instances();

 private:
  // One plan bound to this runner's buffers.
  struct Bound {
    int step_tokens = 0;
    bool last_only = true;
    std::shared_ptr<const cuda::CudaExecutable> exe;
    cuda::DeviceBuffer ids, positions;  // [B, step_tokens] i32
    cuda::CudaRunContext ctx;
  };
  Bound& bind(int step_tokens, bool last_only);
  void ensure_cache(int pad);
  void rebind_shared_buffers();
  void record_decode(Bound& b);
  // Runs the decode plan once outside any capture (lazy module loading, cuBLASLt's first launches) writing
  // only the arena and KV slot cache_pos (not yet in the key mask, so never attended before it is rewritten).
  void warm_up_decode();
  void upload_inputs_and_mask();
  void fill_cache_pos(int slot);

  // Not owning: pooled runners live inside the model's own state (Model::Impl::cuda_state), so holding the
  // model here would keep it alive forever. The model outlives every runner made from it.
  const Model::Impl& model_;
  int rows_, requested_capacity_;
  CudaRunnerOptions options_;
  CudaModelState* state_ = nullptr;
  cuda::Stream stream_;
  int capacity_ = 0;                // the KV bucket, 0 until the first step
  int length_ = 0, slots_ = 0;      // steps fed by the caller; cache slots used (padding included)
  std::vector<cuda::DeviceBuffer> k_, v_;  // per layer [B, H, S, D] in the storage type
  cuda::DeviceBuffer key_mask_, cache_pos_, arena_, gemm_ws_, attention_ws_, reorder_tmp_, reorder_rows_;
  std::vector<int32_t> host_mask_;  // [B, S] mirror of key_mask_
  cuda::PinnedBuffer staging_;      // decode inputs: ids [B], positions [B], cache_pos [B]
  cuda::PinnedBuffer logits_host_;  // [B, V] fp32
  Tensor logits_view_;
  std::vector<std::unique_ptr<Bound>> bound_;
  Bound* decode_ = nullptr;
  cuda::CapturedGraph decode_graph_;
  bool decode_warmed_ = false;  // the decode plan ran once uncaptured
  const float* last_logits_dev_ = nullptr;  // device logits [B, V] of the latest last_only step
  std::unique_ptr<CudaDecodeLoop> loop_;
  RunnerStats stats_;

  friend struct CudaDecodeLoop;
};

}  // namespace jitgen
