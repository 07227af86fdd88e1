#include "graph/tracing_builder.h"

#include <fmt/format.h>

namespace jitgen {

Value TracingBuilder::record(Node n) {
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
  Node n{OpKind::kEmbedding, {table.id, ids.id}};
  n.shape = node(ids).shape;
  n.shape.push_back(node(table).shape[1]);
  return record(std::move(n));
}

Value TracingBuilder::add(Value a, Value b) {
  JITGEN_CHECK(node(a).shape == node(b).shape);
  Node n{OpKind::kAdd, {a.id, b.id}};
  n.shape = node(a).shape;
  return record(std::move(n));
}

Value TracingBuilder::layer_norm(Value x, Value gamma, Value beta, float eps) {
  Node n{OpKind::kLayerNorm, {x.id, gamma.id, beta.id}};
  n.shape = node(x).shape;
  n.eps = eps;
  return record(std::move(n));
}

Value TracingBuilder::linear(Value x, Value w, Value bias) {
  JITGEN_CHECK(node(x).shape.back() == node(w).shape[0]);
  Node n{OpKind::kLinear, {x.id, w.id}};
  if (bias.valid()) n.inputs.push_back(bias.id);
  n.shape = with_last(node(x).shape, node(w).shape[1]);
  n.name = node(w).name;
  return record(std::move(n));
}

Value TracingBuilder::linear_transposed(Value x, Value w) {
  JITGEN_CHECK(node(x).shape.back() == node(w).shape[1]);
  Node n{OpKind::kLinearTransposed, {x.id, w.id}};
  n.shape = with_last(node(x).shape, node(w).shape[0]);
  n.name = node(w).name;
  return record(std::move(n));
}

Value TracingBuilder::activation(Value x, Activation kind) {
  Node n{OpKind::kActivation, {x.id}};
  n.shape = node(x).shape;
  n.act = kind;
  return record(std::move(n));
}

Value TracingBuilder::attention(Value qkv, Value k_cache, Value v_cache, Value cache_pos, Value key_mask, int n_head,
                                float scale) {
  const Shape& q = node(qkv).shape;  // [B, T, 3C]
  Node n{OpKind::kAttention, {qkv.id, k_cache.id, v_cache.id, cache_pos.id, key_mask.id}};
  n.shape = {q[0], q[1], q[2] / 3};
  n.n_head = n_head;
  n.scale = scale;
  n.name = node(k_cache).name;
  return record(std::move(n));
}

Value TracingBuilder::rms_norm(Value x, Value gamma, float eps) {
  JITGEN_CHECK(node(gamma).shape == Shape{node(x).shape.back()});
  Node n{OpKind::kRmsNorm, {x.id, gamma.id}};
  n.shape = node(x).shape;
  n.eps = eps;
  return record(std::move(n));
}

Value TracingBuilder::mul(Value a, Value b) {
  JITGEN_CHECK(node(a).shape == node(b).shape);
  Node n{OpKind::kMul, {a.id, b.id}};
  n.shape = node(a).shape;
  return record(std::move(n));
}

Value TracingBuilder::rope(Value x, Value positions, Value inv_freq, const RopeAttrs& a) {
  const Shape& s = node(x).shape;  // [B, T, heads * D]
  JITGEN_CHECK(s.size() == 3 && a.head_dim > 0 && s[2] % a.head_dim == 0 && a.rotary_dim % 2 == 0 &&
               a.rotary_dim <= a.head_dim && node(inv_freq).shape == Shape{a.rotary_dim / 2});
  Node n{OpKind::kRope, {x.id, positions.id, inv_freq.id}};
  n.shape = s;
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
  n.shape = node(q).shape;  // [B, T, H*D]
  n.n_head = a.n_head;
  n.n_kv_head = a.n_kv_head;
  n.scale = a.scale;
  n.window = a.window;
  n.name = node(k_cache).name;
  return record(std::move(n));
}

Value TracingBuilder::select_tokens(Value logits, Value select_state) {
  Node n{OpKind::kSelectTokens, {logits.id, select_state.id}};
  n.shape = {node(logits).shape[0]};
  n.dtype = DType::kI32;
  return record(std::move(n));
}

Value TracingBuilder::reorder_rows(Value tokens, Value select_state, Value cache_pos, int step_tokens,
                                   const std::vector<Value>& states) {
  JITGEN_CHECK(!states.empty());
  Node n{OpKind::kReorderRows, {tokens.id, select_state.id, cache_pos.id}};
  for (Value s : states) n.inputs.push_back(s.id);
  n.shape = node(states[0]).shape;  // scratch for the largest state (callers put a KV cache first)
  n.dtype = node(states[0]).dtype;
  n.step_tokens = step_tokens;
  return record(std::move(n));
}

Value TracingBuilder::last_position(Value x) {
  Node n{OpKind::kLastPosition, {x.id}};
  n.shape = node(x).shape;
  n.shape[1] = 1;
  return record(std::move(n));
}

}  // namespace jitgen
