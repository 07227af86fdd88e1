#include "graph/tracing_builder.h"

#include <fmt/format.h>

#include "graph/op_table.h"

namespace jitgen {

// Each method records its op, inputs and attributes; the op table's rule (op_table.h) gives the output shape and
// dtype, the same rule the plan store checks loaded plans against. A rule failing here means a model built a wrong
// graph: an internal error.
Value TracingBuilder::record(Node n) {
  for (int id : n.inputs) JITGEN_CHECK(id >= 0 && id < static_cast<int>(graph_.nodes.size()));
  try {
    const TypeOf t = infer_type(graph_, n);
    n.shape = t.shape;
    n.dtype = t.dtype;
  } catch (const OpError& e) {
    throw Error(ErrorCode::kInternal, fmt::format("tracing {}: {}", op_name(n.op), e.what()));
  }
  graph_.nodes.push_back(std::move(n));
  return Value{static_cast<int>(graph_.nodes.size()) - 1};
}

const Node& TracingBuilder::node(Value v) const {
  JITGEN_CHECK(v.id >= 0 && v.id < static_cast<int>(graph_.nodes.size()));
  return graph_.nodes[v.id];
}

Shape TracingBuilder::shape(Value v) const { return node(v).shape; }

Graph TracingBuilder::finish(Value output) {
  graph_.output = output.id;
  return std::move(graph_);
}

Value TracingBuilder::input(const std::string& name) {
  if (auto it = inputs_.find(name); it != inputs_.end()) return Value{it->second};
  auto it = declared_.find(name);
  if (it == declared_.end()) throw Error(ErrorCode::kInternal, fmt::format("step input \"{}\" is not declared", name));
  Node n{OpKind::kInput};
  n.shape = it->second.first;
  n.dtype = it->second.second;
  n.name = name;
  const Value v = record(std::move(n));
  inputs_[name] = v.id;
  return v;
}

Value TracingBuilder::weight(const Tensor& t, const std::string& name) {
  Node n{OpKind::kWeight};
  n.shape = t.shape();
  n.dtype = t.dtype();
  n.name = name;
  n.weight = t;
  return record(std::move(n));
}

Value TracingBuilder::embedding(Value table, Value ids) {
  return record(Node{OpKind::kEmbedding, {table.id, ids.id}});
}

Value TracingBuilder::add(Value a, Value b) {
  return record(Node{OpKind::kAdd, {a.id, b.id}});
}

Value TracingBuilder::layer_norm(Value x, Value gamma, Value beta, float eps) {
  Node n{OpKind::kLayerNorm, {x.id, gamma.id, beta.id}};
  n.eps = eps;
  return record(std::move(n));
}

Value TracingBuilder::linear(Value x, Value w, Value bias) {
  Node n{OpKind::kLinear, {x.id, w.id}};
  if (bias.valid()) n.inputs.push_back(bias.id);
  n.name = node(w).name;
  return record(std::move(n));
}

Value TracingBuilder::linear_transposed(Value x, Value w) {
  Node n{OpKind::kLinearTransposed, {x.id, w.id}};
  n.name = node(w).name;
  return record(std::move(n));
}

Value TracingBuilder::activation(Value x, Activation kind) {
  Node n{OpKind::kActivation, {x.id}};
  n.act = kind;
  return record(std::move(n));
}

Value TracingBuilder::attention(Value qkv, Value k_cache, Value v_cache, Value cache_pos, Value key_mask, int n_head,
                                float scale) {
  Node n{OpKind::kAttention, {qkv.id, k_cache.id, v_cache.id, cache_pos.id, key_mask.id}};
  n.n_head = n_head;
  n.scale = scale;
  n.name = node(k_cache).name;
  return record(std::move(n));
}

Value TracingBuilder::rms_norm(Value x, Value gamma, float eps) {
  Node n{OpKind::kRmsNorm, {x.id, gamma.id}};
  n.eps = eps;
  return record(std::move(n));
}

Value TracingBuilder::mul(Value a, Value b) {
  return record(Node{OpKind::kMul, {a.id, b.id}});
}

Value TracingBuilder::rope(Value x, Value positions, Value inv_freq, const RopeAttrs& a) {
  Node n{OpKind::kRope, {x.id, positions.id, inv_freq.id}};
  n.head_dim = a.head_dim;
  n.rotary_dim = a.rotary_dim;
  n.scale = a.attention_factor;
  n.rope_base = a.dynamic_base;
  n.rope_factor = a.dynamic_factor;
  n.rope_original_max = a.original_max;
  return record(std::move(n));
}

Value TracingBuilder::attention_qkv(Value q, Value k, Value v, Value k_cache, Value v_cache, Value cache_pos,
                                   Value key_mask, const AttentionAttrs& a) {
  Node n{OpKind::kAttentionQkv, {q.id, k.id, v.id, k_cache.id, v_cache.id, cache_pos.id, key_mask.id}};
  n.n_head = a.n_head;
  n.n_kv_head = a.n_kv_head;
  n.scale = a.scale;
  n.window = a.window;
  n.name = node(k_cache).name;
  return record(std::move(n));
}

Value TracingBuilder::select_tokens(Value logits, Value select_state) {
  return record(Node{OpKind::kSelectTokens, {logits.id, select_state.id}});
}

Value TracingBuilder::reorder_rows(Value tokens, Value select_state, Value cache_pos, int step_tokens,
                                   const std::vector<Value>& states) {
  JITGEN_CHECK(!states.empty());
  Node n{OpKind::kReorderRows, {tokens.id, select_state.id, cache_pos.id}};
  for (Value s : states) n.inputs.push_back(s.id);
  n.step_tokens = step_tokens;
  return record(std::move(n));
}

Value TracingBuilder::last_position(Value x) {
  return record(Node{OpKind::kLastPosition, {x.id}});
}

}  // namespace jitgen
