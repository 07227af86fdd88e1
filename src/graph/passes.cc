#include "graph/passes.h"

#include <vector>

#include "graph/op_table.h"

namespace jitgen {

namespace {

std::vector<int> use_counts(const Graph& g) {
  std::vector<int> uses(g.nodes.size(), 0);
  for (const Node& n : g.nodes) {
    if (n.dead) continue;
    for (int in : n.inputs) ++uses[in];
    if (n.residual >= 0) ++uses[n.residual];
  }
  if (g.output >= 0) ++uses[g.output];
  return uses;
}

// Every use of node `from` now reads node `to`.
void replace_uses(Graph& g, int from, int to) {
  for (Node& n : g.nodes) {
    for (int& in : n.inputs)
      if (in == from) in = to;
    if (n.residual == from) n.residual = to;
  }
  if (g.output == from) g.output = to;
}

}  // namespace

void fuse_embedding_sum(Graph& g, PassStats& stats) {
  auto uses = use_counts(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& add = g.nodes[i];
    if (add.dead || add.op != OpKind::kAdd) continue;
    Node& a = g.nodes[add.inputs[0]];
    Node& b = g.nodes[add.inputs[1]];
    if (a.op != OpKind::kEmbedding || b.op != OpKind::kEmbedding) continue;
    if (uses[add.inputs[0]] != 1 || uses[add.inputs[1]] != 1) continue;
    add.op = OpKind::kEmbeddingSum;
    add.inputs = {a.inputs[0], a.inputs[1], b.inputs[0], b.inputs[1]};
    add.name = "wte+wpe";
    a.dead = b.dead = true;
    ++stats.fused_embeddings;
  }
}

void fuse_linear_activation(Graph& g, PassStats& stats) {
  auto uses = use_counts(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& act = g.nodes[i];
    if (act.dead || act.op != OpKind::kActivation) continue;
    const int src = act.inputs[0];
    Node& lin = g.nodes[src];
    if (lin.op != OpKind::kLinear || lin.has_act || lin.residual >= 0 || uses[src] != 1) continue;
    lin.has_act = true;
    lin.act = act.act;
    act.dead = true;
    replace_uses(g, static_cast<int>(i), src);
    ++stats.fused_activations;
  }
}

void fuse_linear_residual(Graph& g, PassStats& stats) {
  auto uses = use_counts(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& add = g.nodes[i];
    if (add.dead || add.op != OpKind::kAdd) continue;
    for (int side = 0; side < 2; ++side) {
      const int lin_id = add.inputs[side], res_id = add.inputs[1 - side];
      Node& lin = g.nodes[lin_id];
      // The residual must exist before the matmul runs (recording order is execution order).
      if (lin.op != OpKind::kLinear || lin.residual >= 0 || uses[lin_id] != 1 || res_id >= lin_id) continue;
      lin.residual = res_id;
      add.dead = true;
      replace_uses(g, static_cast<int>(i), lin_id);
      ++stats.fused_residuals;
      break;
    }
  }
}

void eliminate_dead_code(Graph& g, PassStats& stats) {
  std::vector<bool> live(g.nodes.size(), false);
  std::vector<int> stack;
  auto mark = [&](int id) {
    if (id >= 0 && !live[id]) {
      live[id] = true;
      stack.push_back(id);
    }
  };
  mark(g.output);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!g.nodes[i].dead && op_def(g.nodes[i].op).side_effect) mark(static_cast<int>(i));  // KV writes, beam reorder
  while (!stack.empty()) {
    const Node& n = g.nodes[stack.back()];
    stack.pop_back();
    for (int in : n.inputs) mark(in);
    mark(n.residual);
  }
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!g.nodes[i].dead && !live[i]) {
      g.nodes[i].dead = true;
      ++stats.removed_dead;
    }
}

void run_default_passes(Graph& g, PassStats& stats) {
  fuse_embedding_sum(g, stats);
  fuse_linear_activation(g, stats);
  fuse_linear_residual(g, stats);
  eliminate_dead_code(g, stats);
}

}  // namespace jitgen
