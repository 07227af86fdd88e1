#pragma once
// The op table: one OpDef per OpKind (graph.h), declaring what every consumer of the IR needs to know about an op:
// its name, the node attributes it reads, its input count, its shape / dtype rule, whether it has a side effect,
// how it prints, and its CPU kernel launch. The tracing builder, the plan store, the passes, the memory planner and
// the CPU executable all read this table; there are no per-op switch statements elsewhere that must agree with it.
// The CUDA executable keeps its launches in ops/cuda/cuda_ops.cc, a list keyed by OpKind that is checked at compile
// time to name every op (graph/ cannot link the CUDA library). Adding an op = an OpKind, a Builder method, one entry
// in op_table.cc, one in cuda_ops.cc (a launch or an explicit "no CUDA kernel"), its kernels, and its case in
// tests/backend_ops_test.cc (which fails for an op without one). In the spirit of XLA's HLO opcode table and ggml's
// per-op name / shape tables.
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace jitgen {

// Per-run memory of a CPU executable: the arena of the plan plus the pointers of the named inputs (in the
// executable's input_names order).
struct RunContext {
  char* arena = nullptr;
  std::vector<void*> inputs;
};

// Where a node's data lives at run time: fixed (a weight), the arena (at an offset), or a bound input (a slot).
struct Ref {
  enum Kind { kFixed, kArena, kInput } kind = kFixed;
  size_t offset = 0;
  int slot = -1;
  void* fixed = nullptr;

  void* get(const RunContext& ctx) const {
    switch (kind) {
      case kArena: return ctx.arena + offset;
      case kInput: return ctx.inputs[slot];
      case kFixed: break;
    }
    return fixed;
  }
  float* f(const RunContext& ctx) const { return static_cast<float*>(get(ctx)); }
  int32_t* i(const RunContext& ctx) const { return static_cast<int32_t*>(get(ctx)); }
};

// The attributes a node can carry: the Node fields after `name` (graph.h). An op declares the ones it reads; the
// others stay at their defaults (the plan store refuses a node that sets one its op does not declare).
enum class Attr : uint8_t {
  kEps, kScale, kHeads, kStepTokens, kActivation, kHasAct, kResidual,
  kKvHeads, kWindow, kHeadDim, kRotaryDim, kRopeBase, kRopeFactor, kRopeMax,
};
using AttrMask = uint32_t;
constexpr AttrMask attr_bit(Attr a) { return AttrMask{1} << static_cast<int>(a); }
template <typename... A>
constexpr AttrMask attrs(A... a) {
  return (AttrMask{0} | ... | attr_bit(a));
}

// One attribute as a plan file stores it (graph/plan_store.cc reads and writes every node through this list).
struct AttrDef {
  Attr attr;
  const char* key;  // the JSON key in plan files
  enum Kind : uint8_t { kInt, kFloat, kBool } kind;
  // Absent from plan files written before the Llama-family ops (format version 3 without them): reads as default.
  bool optional;
  int64_t lo, hi;  // kInt: the accepted range (kBool: 0..1)
  double default_value;
  double (*get)(const Node&);
  void (*set)(Node&, double);
};
std::span<const AttrDef> attr_defs();

// A node inconsistent with its op's rule (input count, shapes, dtypes, attributes). The tracing builder turns it
// into an internal error (a model built a wrong graph); the plan store into "ignoring plan cache file".
struct OpError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What a node must produce given its inputs and attributes.
struct TypeOf {
  Shape shape;
  DType dtype = DType::kF32;
};

// A node and its graph, for shape rules: in(k) is input k (OpError when the node has fewer).
struct NodeView {
  const Graph& graph;
  const Node& node;
  const Node& in(size_t k) const;
};

// What a CPU launch is bound from: the node, where each node's data lives, and where its output goes.
struct CpuBindArgs {
  const Graph& graph;
  const Node& node;
  const std::vector<Ref>& refs;  // per node id
  Ref out;
  Ref in(size_t k) const { return refs[node.inputs[k]]; }
  const Node& input(size_t k) const { return graph.nodes[node.inputs[k]]; }
  const Shape& in_shape(size_t k) const { return input(k).shape; }
};
using CpuKernel = std::function<void(const RunContext&)>;

struct OpDef {
  OpKind op;
  const char* name;  // dumps, plan files ("op"), kernel labels
  AttrMask attrs;    // the attributes it reads
  int min_inputs, max_inputs;  // max -1: any number from min (reorder_rows: one per state)
  bool bound;        // input / weight: bound by whoever runs the graph; no kernel, no arena buffer
  bool side_effect;  // writes state that outlives the step (KV cache, beam reorder): dead-code removal keeps it
  // The output shape and dtype the node must have; throws OpError on anything inconsistent, so a bound kernel never
  // reads or writes outside its buffers (plan files are checked by it, never trusted).
  TypeOf (*infer)(const NodeView&);
  // Attributes for Graph::dump after the name, e.g. " heads=12 scale=0.125"; null: none.
  std::string (*describe)(const Node&);
  // The CPU kernel of a live node; null only for bound ops.
  CpuKernel (*bind_cpu)(const CpuBindArgs&);
};

constexpr int kOpCount = static_cast<int>(OpKind::kReorderRows) + 1;

const OpDef& op_def(OpKind op);
std::span<const OpDef> op_defs();  // every op kind, in OpKind order
const OpDef* op_def_by_name(const std::string& name);  // null when no op has that name

// op_def(n.op).infer after checking the input count and that no attribute outside the op's set differs from its
// default. Input ids must already be valid (earlier nodes; the plan store checks that first). Throws OpError.
TypeOf infer_type(const Graph& g, const Node& n);

const char* activation_name(Activation a);  // "gelu_tanh", "gelu_erf", "relu", "silu"

}  // namespace jitgen
