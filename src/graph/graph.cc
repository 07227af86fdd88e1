#include "graph/graph.h"

#include <fmt/format.h>

namespace jitgen {

const char* op_name(OpKind op) {
  switch (op) {
    case OpKind::kInput: return "input";
    case OpKind::kWeight: return "weight";
    case OpKind::kEmbedding: return "embedding";
    case OpKind::kEmbeddingSum: return "embedding_sum";
    case OpKind::kAdd: return "add";
    case OpKind::kLayerNorm: return "layer_norm";
    case OpKind::kLinear: return "linear";
    case OpKind::kLinearTransposed: return "linear_t";
    case OpKind::kActivation: return "activation";
    case OpKind::kAttention: return "attention";
    case OpKind::kRmsNorm: return "rms_norm";
    case OpKind::kMul: return "mul";
    case OpKind::kRope: return "rope";
    case OpKind::kAttentionQkv: return "attention_qkv";
    case OpKind::kLastPosition: return "last_position";
    case OpKind::kSelectTokens: return "select_tokens";
    case OpKind::kReorderRows: return "reorder_rows";
  }
  return "?";
}

namespace {
const char* act_name(Activation a) {
  switch (a) {
    case Activation::kGeluTanh: return "gelu_tanh";
    case Activation::kGeluErf: return "gelu_erf";
    case Activation::kRelu: return "relu";
    case Activation::kSilu: return "silu";
  }
  return "?";
}
}  // namespace

int Graph::live_count() const {
  int n = 0;
  for (const Node& node : nodes) n += node.dead ? 0 : 1;
  return n;
}

std::string Graph::dump() const {
  std::string out;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (n.dead) continue;
    std::vector<std::string> args;
    for (int in : n.inputs) args.push_back(fmt::format("%{}", in));
    std::string attrs;
    if (!n.name.empty()) attrs += fmt::format(" \"{}\"", n.name);
    if (n.op == OpKind::kLinear && n.has_act) attrs += fmt::format(" act={}", act_name(n.act));
    if (n.op == OpKind::kActivation) attrs += fmt::format(" {}", act_name(n.act));
    if (n.residual >= 0) attrs += fmt::format(" residual=%{}", n.residual);
    if (n.op == OpKind::kLayerNorm) attrs += fmt::format(" eps={}", n.eps);
    if (n.op == OpKind::kAttention) attrs += fmt::format(" heads={} scale={:.6g}", n.n_head, n.scale);
    if (n.op == OpKind::kRmsNorm) attrs += fmt::format(" eps={}", n.eps);
    if (n.op == OpKind::kAttentionQkv)
      attrs += fmt::format(" heads={} kv_heads={} scale={:.6g} window={}", n.n_head, n.n_kv_head, n.scale, n.window);
    if (n.op == OpKind::kRope)
      attrs += fmt::format(" head_dim={} rotary={} factor={:.6g}{}", n.head_dim, n.rotary_dim, n.scale,
                           n.rope_base > 0 ? fmt::format(" dynamic base={} x{}", n.rope_base, n.rope_factor) : "");
    if (n.op == OpKind::kReorderRows) attrs += fmt::format(" T={}", n.step_tokens);
    out += fmt::format("%{} = {}({}){} : {} {}{}\n", i, op_name(n.op), fmt::join(args, ", "), attrs,
                       shape_str(n.shape), dtype_name(n.dtype), static_cast<int>(i) == output ? "  <- output" : "");
  }
  return out;
}

}  // namespace jitgen
