#pragma once
// CudaExecutable: the same traced Graph the CPU executable runs, bound to CUDA kernels. The graph goes
// through the same passes (fused mode) or only dead-code removal (the op-by-op "eager CUDA" baseline), gets
// the same memory plan (one device arena: offsets are planned for fp32 and half storage uses the first
// half of each buffer), and each live node becomes one launch (cuBLASLt for linear layers, epilogues folded
// in; linears whose weights were quantized at load run the int8 / int4 kernels of quant_gemm.h). run() only
// enqueues work on a stream, so a runner can capture it into a CUDA graph.
//
// The output (the logits) is always fp32, whatever the storage: the host and the samplers read fp32.
#include <cublasLt.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graph/memory_plan.h"
#include "graph/passes.h"
#include "ops/cuda/cuda_ops.h"  // CudaRunContext, the launch table
#include "ops/cuda/device_weights.h"
#include "ops/cuda/gemm.h"

namespace jitgen::cuda {

class CudaExecutable {
 public:
  // fused: the default passes (embedding sum, linear epilogues, DCE); otherwise only DCE, one launch per op.
  static std::shared_ptr<const CudaExecutable> build(Graph graph, bool fused, DeviceWeights& weights,
                                                     cublasLtHandle_t lt);

  void run(const CudaRunContext& ctx, cudaStream_t stream) const;

  const std::vector<std::string>& input_names() const { return input_names_; }
  size_t arena_bytes() const { return plan_.arena_bytes; }
  // Scratch of the ops that need one: attention's flash-decoding partials and the quantized linears' int8
  // activations (ops run in stream order, so one buffer serves both).
  size_t attention_workspace_bytes() const { return attention_workspace_bytes_; }
  const Shape& output_shape() const { return graph_.nodes[graph_.output].shape; }
  const float* output(const CudaRunContext& ctx) const {
    return reinterpret_cast<const float*>(ctx.arena + plan_.offset[graph_.output]);
  }
  int kernel_count() const { return static_cast<int>(launches_.size()); }
  const std::string& kernel_label(int i) const { return labels_[i]; }
  const PassStats& pass_stats() const { return stats_; }
  Storage storage() const { return storage_; }

 private:
  void bind(DeviceWeights& weights, cublasLtHandle_t lt);

  Graph graph_;
  PassStats stats_;
  MemoryPlan plan_;
  Storage storage_ = Storage::kF32;
  std::vector<std::string> input_names_;
  std::vector<std::function<void(const CudaRunContext&, cudaStream_t)>> launches_;
  std::vector<std::string> labels_;
  std::vector<std::shared_ptr<LtGemm>> gemms_;  // owned here; launches hold raw pointers
  size_t attention_workspace_bytes_ = 0;
};

}  // namespace jitgen::cuda
