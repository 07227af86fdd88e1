#include "ops/cuda/cuda_executable.h"

#include <string>

#include "graph/op_table.h"

namespace jitgen::cuda {

std::shared_ptr<const CudaExecutable> CudaExecutable::build(Graph graph, bool fused, DeviceWeights& weights,
                                                            cublasLtHandle_t lt) {
  auto exe = std::shared_ptr<CudaExecutable>(new CudaExecutable());
  if (fused)
    run_default_passes(graph, exe->stats_);
  else
    eliminate_dead_code(graph, exe->stats_);
  exe->plan_ = plan_memory(graph);
  exe->graph_ = std::move(graph);
  exe->storage_ = weights.storage();
  exe->bind(weights, lt);
  return exe;
}

void CudaExecutable::run(const CudaRunContext& ctx, cudaStream_t stream) const {
  JITGEN_CHECK(ctx.inputs.size() == input_names_.size());
  for (const auto& launch : launches_) launch(ctx, stream);
}

void CudaExecutable::bind(DeviceWeights& weights, cublasLtHandle_t lt) {
  const Graph& g = graph_;
  const Storage st = storage_;
  JITGEN_CHECK(g.output >= 0 && plan_.offset[g.output] != MemoryPlan::kNone);
  const Node& out_node = g.nodes[g.output];
  JITGEN_CHECK(st == Storage::kF32 || out_node.op == OpKind::kLinearTransposed);  // fp32 logits

  std::vector<CudaRef> refs(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.dead) continue;
    if (n.op == OpKind::kWeight) {
      refs[i] = CudaRef{CudaRef::kFixed, 0, -1, nullptr};  // uploaded when an op reads it (quantized linears do not)
    } else if (n.op == OpKind::kInput) {
      refs[i] = CudaRef{CudaRef::kInput, 0, static_cast<int>(input_names_.size()), nullptr};
      input_names_.push_back(n.name);
    } else {
      refs[i] = CudaRef{CudaRef::kArena, plan_.offset[i], -1, nullptr};
    }
  }

  // One launch per live computed node, bound by its op's entry in the CUDA launch table (cuda_ops.h).
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.dead || op_def(n.op).bound) continue;
    const CudaOp& op = cuda_op(n.op);
    if (!op.bind)  // refused at build time, not at run time
      throw Error(ErrorCode::kInternal,
                  std::string("the CUDA backend has no kernel for op ") + op_name(n.op) + ": " + op.none_because);
    CudaBindArgs args{g, n, static_cast<int>(i) == g.output, refs, refs[i], st, weights, lt, gemms_,
                      attention_workspace_bytes_};
    CudaBound bound = op.bind(args);
    launches_.push_back(std::move(bound.launch));
    labels_.push_back(std::move(bound.label));
  }
}

}  // namespace jitgen::cuda
