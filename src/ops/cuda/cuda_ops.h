#pragma once
// The CUDA launches of the op table (graph/op_table.h): one CudaOp per OpKind, in enum order, checked at compile time
// (cuda_ops.cc), so an op added to the table without a CUDA entry does not build. An entry is a launch binder, or
// null with the reason the CUDA backend has none (the executable then refuses the graph at build time, naming it).
// Everything else about an op (name, attributes, shape rule) comes from the op table.
#include <cublasLt.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "ops/cuda/device_weights.h"
#include "ops/cuda/gemm.h"
#include "ops/cuda/kernels.h"

namespace jitgen::cuda {

// Per-run device memory: the arena, the named inputs (input_names order) and scratch.
struct CudaRunContext {
  char* arena = nullptr;
  std::vector<void*> inputs;
  void* gemm_workspace = nullptr;       // kGemmWorkspaceBytes
  void* attention_workspace = nullptr;  // attention_workspace_bytes(): attention partials, quantized activations
};

// Where a node's data lives at run time: a device weight, the arena, or a bound input.
struct CudaRef {
  enum Kind { kFixed, kArena, kInput } kind = kFixed;
  size_t offset = 0;
  int slot = -1;
  const void* fixed = nullptr;

  void* get(const CudaRunContext& c) const {
    switch (kind) {
      case kArena: return c.arena + offset;
      case kInput: return c.inputs[slot];
      case kFixed: break;
    }
    return const_cast<void*>(fixed);
  }
  int32_t* i(const CudaRunContext& c) const { return static_cast<int32_t*>(get(c)); }
};

using CudaLaunch = std::function<void(const CudaRunContext&, cudaStream_t)>;

// What a launch is bound from, and what it leaves with the executable (cuBLASLt plans, attention scratch size).
struct CudaBindArgs {
  const Graph& graph;
  const Node& node;
  bool is_output;                    // the graph's output: always written fp32
  std::vector<CudaRef>& refs;  // per node id; a weight's device copy is made when a launch reads it (in())
  CudaRef out;
  Storage storage;
  DeviceWeights& weights;
  cublasLtHandle_t lt;
  std::vector<std::shared_ptr<LtGemm>>& gemms;  // owned by the executable; launches hold raw pointers
  size_t& attention_workspace_bytes;            // raised to what this launch needs
  // Input k's location; a weight is uploaded here, on first read (quantized linears never read their fp32 weight).
  CudaRef in(size_t k) const {
    CudaRef& r = refs[node.inputs[k]];
    const Node& w = graph.nodes[node.inputs[k]];
    if (w.op == OpKind::kWeight && r.fixed == nullptr) r.fixed = weights.get(w.weight);
    return r;
  }
  const Shape& in_shape(size_t k) const { return graph.nodes[node.inputs[k]].shape; }
};

struct CudaBound {
  CudaLaunch launch;
  std::string label;  // "linear+gelu(epilogue)+residual": what the launch does, for profiles
};

struct CudaOp {
  OpKind op;
  CudaBound (*bind)(CudaBindArgs&);  // null: no CUDA kernel (or a bound op: input / weight)
  const char* none_because;          // why there is none, for the error and the backend-ops test's skip
};

const CudaOp& cuda_op(OpKind op);

}  // namespace jitgen::cuda
