#pragma once
// Graph passes, run in this order by compile(): each rewrites nodes in place and marks the ones it
// makes redundant as dead. Every fusion keeps the float operations and their order of the unfused
// ops, so compiled results are bit-identical to eager ones for the same kernel shapes.
#include "graph/graph.h"

namespace jitgen {

struct PassStats {
  int fused_embeddings = 0;   // token + position embedding in one pass over the rows
  int fused_activations = 0;  // activation as a matmul epilogue
  int fused_residuals = 0;    // residual add as a matmul epilogue
  int removed_dead = 0;
};

// add(embedding(a, i), embedding(b, j)) -> embedding_sum(a, i, b, j)
void fuse_embedding_sum(Graph& g, PassStats& stats);
// activation(linear(x)) -> linear(x) with an activation epilogue, when the linear has no other use.
void fuse_linear_activation(Graph& g, PassStats& stats);
// add(r, linear(x)) -> linear(x) with a residual epilogue (r computed earlier), single use.
void fuse_linear_residual(Graph& g, PassStats& stats);
// Removes nodes that neither reach the output nor have side effects (attention writes the KV cache).
void eliminate_dead_code(Graph& g, PassStats& stats);

void run_default_passes(Graph& g, PassStats& stats);

}  // namespace jitgen
