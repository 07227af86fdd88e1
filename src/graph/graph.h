#pragma once
// Graph IR: what the tracing builder records. Static shapes and dtypes, one output per node, nodes in
// topological (recording) order. Passes rewrite it; the planner and the executable consume it.
#include <string>
#include <vector>

#include "core/tensor.h"
#include "graph/builder.h"

namespace jitgen {

// Every op kind has one entry in the op table (graph/op_table.h): name, attributes, shape rule, CPU launch; the
// CUDA launches are in ops/cuda/cuda_ops.cc. kOpCount (op_table.h) is the last kind + 1; both tables'
// static_asserts fail until a new kind has its entries and kOpCount counts it.
enum class OpKind {
  kInput,             // a step input or a state, bound by name at run time
  kWeight,            // a model weight, bound by pointer at compile time
  kEmbedding,         // table[ids]
  kEmbeddingSum,      // fused: table_a[ids_a] + table_b[ids_b] (token + position embeddings)
  kAdd,
  kLayerNorm,
  kLinear,            // x @ w (+ bias) (+ activation) (+ residual): epilogues folded in by fusion
  kLinearTransposed,
  kActivation,
  kAttention,         // writes the KV cache (a side effect: never removed)
  kRmsNorm,
  kMul,
  kRope,              // rotary embeddings (attrs: head_dim, rotary_dim, scale = attention_factor, dynamic NTK)
  kAttentionQkv,      // separate q, k, v, GQA / MQA, sliding window; writes the KV cache (a side effect)
  kLastPosition,
  kSelectTokens,      // logits -> tokens through the bound TokenSelect (processors, sampling, finished flags)
  kReorderRows,       // beam search: rows of the KV cache follow their beams (a side effect: never removed)
};

const char* op_name(OpKind op);

struct Node {
  OpKind op;
  std::vector<int> inputs;  // node ids
  Shape shape;
  DType dtype = DType::kF32;
  std::string name;  // inputs: the binding name; weights: the HF tensor name; others: a label
  // Attributes (meaning depends on op)
  float eps = 0, scale = 0;
  int n_head = 0;
  int step_tokens = 0;        // kReorderRows: tokens the step wrote (filled slots = max(cache_pos) + this)
  int n_kv_head = 0, window = 0;           // kAttentionQkv
  int head_dim = 0, rotary_dim = 0;        // kRope
  float rope_base = 0, rope_factor = 0;    // kRope, dynamic NTK (rope_base > 0)
  int rope_original_max = 0;
  Activation act = Activation::kGeluTanh;
  bool has_act = false;       // kLinear epilogue
  int residual = -1;          // kLinear epilogue: node id added to the result
  Tensor weight;              // kWeight
  bool dead = false;          // removed by a pass
};

struct Graph {
  std::vector<Node> nodes;
  int output = -1;

  int live_count() const;
  // One line per live node: "%12 = linear(%10, %3, %4) act=gelu_tanh residual=%8 : [2, 8, 768] f32".
  std::string dump() const;
};

}  // namespace jitgen
