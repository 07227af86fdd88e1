// The op table (op_table.h): one entry per op kind. Each entry is read by the tracing builder (shape rule), the plan
// store (name, attributes, shape rule), the passes (side effects), the memory planner (bound ops) and the CPU
// executable (bind_cpu). Shape comments: B = batch rows, T = new tokens, S = KV capacity, C = channels, H = heads,
// KV = key/value heads, D = head dim, V = vocab, K/N = matmul in/out features.
#include "graph/op_table.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>

#include "ops/cpu_kernels.h"

namespace jitgen {

namespace {

// ---- Attributes: one row per Node field a plan file stores (keys as plan format version 3 has them) ----

// Plan files hold numbers; integer fields (and the Activation enum) go through int64_t, floats stay floats.
#define JITGEN_ATTR_ACCESS(field)                                                        \
  [](const Node& n) { return static_cast<double>(n.field); }, [](Node& n, double v) {    \
    using T = decltype(n.field);                                                         \
    if constexpr (std::is_floating_point_v<T>)                                           \
      n.field = static_cast<T>(v);                                                       \
    else                                                                                 \
      n.field = static_cast<T>(static_cast<int64_t>(v));                                 \
  }

constexpr int64_t kIntMax = 1 << 30;
const AttrDef kAttrs[] = {
    {Attr::kEps, "eps", AttrDef::kFloat, false, 0, 0, 0, JITGEN_ATTR_ACCESS(eps)},
    {Attr::kScale, "scale", AttrDef::kFloat, false, 0, 0, 0, JITGEN_ATTR_ACCESS(scale)},
    {Attr::kHeads, "heads", AttrDef::kInt, false, 0, kIntMax, 0, JITGEN_ATTR_ACCESS(n_head)},
    {Attr::kStepTokens, "T", AttrDef::kInt, false, 0, kIntMax, 0, JITGEN_ATTR_ACCESS(step_tokens)},
    {Attr::kActivation, "act", AttrDef::kInt, false, 0, static_cast<int>(Activation::kSilu), 0,
     JITGEN_ATTR_ACCESS(act)},
    {Attr::kHasAct, "has_act", AttrDef::kBool, false, 0, 1, 0, JITGEN_ATTR_ACCESS(has_act)},
    {Attr::kResidual, "residual", AttrDef::kInt, false, -1, kIntMax, -1, JITGEN_ATTR_ACCESS(residual)},
    {Attr::kKvHeads, "kv", AttrDef::kInt, true, 0, kIntMax, 0, JITGEN_ATTR_ACCESS(n_kv_head)},
    {Attr::kWindow, "window", AttrDef::kInt, true, 0, kIntMax, 0, JITGEN_ATTR_ACCESS(window)},
    {Attr::kHeadDim, "head_dim", AttrDef::kInt, true, 0, kIntMax, 0, JITGEN_ATTR_ACCESS(head_dim)},
    {Attr::kRotaryDim, "rotary", AttrDef::kInt, true, 0, kIntMax, 0, JITGEN_ATTR_ACCESS(rotary_dim)},
    {Attr::kRopeBase, "rope_base", AttrDef::kFloat, true, 0, 0, 0, JITGEN_ATTR_ACCESS(rope_base)},
    {Attr::kRopeFactor, "rope_factor", AttrDef::kFloat, true, 0, 0, 0, JITGEN_ATTR_ACCESS(rope_factor)},
    {Attr::kRopeMax, "rope_max", AttrDef::kInt, true, 0, kIntMax, 0, JITGEN_ATTR_ACCESS(rope_original_max)},
};
#undef JITGEN_ATTR_ACCESS

void need(bool ok, const char* what) {
  if (!ok) throw OpError(what);
}
bool is_f32(const Node& x) { return x.dtype == DType::kF32; }
bool is_i32(const Node& x) { return x.dtype == DType::kI32; }

// ---- Rules and launches shared by several ops ----

TypeOf same_as_input(const NodeView& v) { return {v.node.shape, v.node.dtype}; }  // bound ops: as declared

TypeOf elementwise(const NodeView& v) {  // add, mul: same shapes, fp32
  need(v.in(0).shape == v.in(1).shape && is_f32(v.in(0)) && is_f32(v.in(1)), "bad elementwise operands");
  return {v.in(0).shape};
}

TypeOf embedding_rows(const NodeView& v, const Node& table, const Node& ids) {  // [V, C], [...] i32 -> [..., C]
  need(table.shape.size() == 2 && is_f32(table) && is_i32(ids), "bad embedding");
  Shape s = ids.shape;
  s.push_back(table.shape[1]);
  (void)v;
  return {s};
}

std::string eps_attr(const Node& n) { return fmt::format(" eps={}", n.eps); }

// ---- The ops, in OpKind order ----

TypeOf infer_embedding(const NodeView& v) { return embedding_rows(v, v.in(0), v.in(1)); }
CpuKernel cpu_embedding(const CpuBindArgs& a) {
  const Ref table = a.in(0), ids = a.in(1), out = a.out;
  const int64_t V = a.in_shape(0)[0], C = a.in_shape(0)[1], R = shape_numel(a.in_shape(1));
  return [=](const RunContext& c) { cpu::embedding(table.f(c), V, C, ids.i(c), R, out.f(c)); };
}

TypeOf infer_embedding_sum(const NodeView& v) {  // fused from add(embedding, embedding): token + position
  need(v.in(2).shape.size() == 2 && v.in(0).shape.size() == 2 && v.in(0).shape[1] == v.in(2).shape[1] &&
           is_f32(v.in(2)),
       "bad embedding_sum");
  need(v.in(1).shape == v.in(3).shape && is_i32(v.in(3)), "bad embedding_sum ids");
  return embedding_rows(v, v.in(0), v.in(1));
}
CpuKernel cpu_embedding_sum(const CpuBindArgs& a) {
  const Ref ta = a.in(0), ia = a.in(1), tb = a.in(2), ib = a.in(3), out = a.out;
  const int64_t Va = a.in_shape(0)[0], Vb = a.in_shape(2)[0], C = a.in_shape(0)[1], R = shape_numel(a.in_shape(1));
  return [=](const RunContext& c) { cpu::embedding_sum(ta.f(c), Va, ia.i(c), tb.f(c), Vb, ib.i(c), C, R, out.f(c)); };
}

CpuKernel cpu_add(const CpuBindArgs& a) {
  const Ref x = a.in(0), y = a.in(1), out = a.out;
  const int64_t N = shape_numel(a.node.shape);
  return [=](const RunContext& c) { cpu::add(x.f(c), y.f(c), out.f(c), N); };
}

TypeOf infer_layer_norm(const NodeView& v) {  // x [..., C], gamma [C], beta [C]
  need(!v.in(0).shape.empty() && v.in(1).shape == Shape{v.in(0).shape.back()} && v.in(2).shape == v.in(1).shape &&
           is_f32(v.in(0)) && is_f32(v.in(1)) && is_f32(v.in(2)),
       "bad layer_norm");
  return {v.in(0).shape};
}
CpuKernel cpu_layer_norm(const CpuBindArgs& a) {
  const Ref x = a.in(0), gamma = a.in(1), beta = a.in(2), out = a.out;
  const int64_t R = rows_of(a.node.shape), C = a.node.shape.back();
  const float eps = a.node.eps;
  return [=](const RunContext& c) { cpu::layer_norm(x.f(c), gamma.f(c), beta.f(c), eps, R, C, out.f(c)); };
}

TypeOf infer_linear(const NodeView& v) {  // x [..., K] @ w [K, N] (+ bias [N]) (+ residual [..., N])
  const Node &x = v.in(0), &w = v.in(1);
  need(!x.shape.empty() && w.shape.size() == 2 && x.shape.back() == w.shape[0] && is_f32(x) && is_f32(w),
       "bad linear");
  if (v.node.inputs.size() > 2) need(v.in(2).shape == Shape{w.shape[1]} && is_f32(v.in(2)), "bad linear bias");
  const Shape s = with_last(x.shape, w.shape[1]);
  const int r = v.node.residual;
  if (r >= 0) need(r < static_cast<int>(v.graph.nodes.size()) && v.graph.nodes[r].shape == s, "bad linear residual");
  return {s};
}
std::string describe_linear(const Node& n) {
  std::string s = n.has_act ? fmt::format(" act={}", activation_name(n.act)) : "";
  if (n.residual >= 0) s += fmt::format(" residual=%{}", n.residual);
  return s;
}
CpuKernel cpu_linear(const CpuBindArgs& a) {
  const Node& n = a.node;
  const Ref x = a.in(0), w = a.in(1), out = a.out;
  const bool has_bias = n.inputs.size() > 2, has_act = n.has_act, has_res = n.residual >= 0;
  const Ref bias = has_bias ? a.in(2) : Ref{};
  const Ref res = has_res ? a.refs[n.residual] : Ref{};
  const Activation act = n.act;
  const int64_t M = rows_of(n.shape), K = a.in_shape(1)[0], N = a.in_shape(1)[1];
  return [=](const RunContext& c) {
    // Bias, activation and residual are applied to each output tile while it is in registers.
    const cpu::LinearEpilogue epi{has_act, act, has_res ? res.f(c) : nullptr};
    cpu::linear(x.f(c), w.f(c), has_bias ? bias.f(c) : nullptr, M, K, N, out.f(c), epi);
  };
}

TypeOf infer_linear_t(const NodeView& v) {  // x [..., K] @ w [N, K]^T (the tied lm_head)
  need(!v.in(0).shape.empty() && v.in(1).shape.size() == 2 && v.in(0).shape.back() == v.in(1).shape[1] &&
           is_f32(v.in(0)) && is_f32(v.in(1)),
       "bad linear_t");
  return {with_last(v.in(0).shape, v.in(1).shape[0])};
}
CpuKernel cpu_linear_t(const CpuBindArgs& a) {
  const Ref x = a.in(0), w = a.in(1), out = a.out;
  const int64_t M = rows_of(a.node.shape), N = a.in_shape(1)[0], K = a.in_shape(1)[1];
  return [=](const RunContext& c) { cpu::linear_transposed(x.f(c), w.f(c), M, K, N, out.f(c)); };
}

TypeOf infer_activation(const NodeView& v) {
  need(is_f32(v.in(0)), "bad activation");
  return {v.in(0).shape};
}
CpuKernel cpu_activation(const CpuBindArgs& a) {
  const Ref x = a.in(0), out = a.out;
  const int64_t N = shape_numel(a.node.shape);
  const Activation act = a.node.act;
  return [=](const RunContext& c) { cpu::activation(x.f(c), out.f(c), N, act); };
}

// qkv [B, T, 3*H*D] packed as GPT-2's c_attn; k_cache, v_cache [B, H, S, D]; cache_pos [B] i32; key_mask [B, S] i32.
TypeOf infer_attention(const NodeView& v) {
  const Shape &q = v.in(0).shape, &k = v.in(1).shape;
  const int H = v.node.n_head;
  need(q.size() == 3 && k.size() == 4 && v.in(2).shape == k && k[0] == q[0] && H == k[1] && H > 0, "bad attention");
  need(q[2] == 3 * k[1] * k[3] && v.in(3).shape == Shape{k[0]} && v.in(4).shape == Shape{k[0], k[2]} && q[1] <= k[2],
       "bad attention");
  need(is_i32(v.in(3)) && is_i32(v.in(4)) && is_f32(v.in(0)) && is_f32(v.in(1)) && is_f32(v.in(2)),
       "bad attention inputs");
  return {{q[0], q[1], q[2] / 3}};
}
std::string describe_attention(const Node& n) { return fmt::format(" heads={} scale={:.6g}", n.n_head, n.scale); }
CpuKernel cpu_attention(const CpuBindArgs& a) {
  const Ref qkv = a.in(0), kc = a.in(1), vc = a.in(2), pos = a.in(3), mask = a.in(4), out = a.out;
  const Shape& cache = a.in_shape(1);  // [B, H, S, D]
  const cpu::AttentionShape s{a.node.shape[0], a.node.shape[1], cache[2], cache[1], cache[3]};
  const float scale = a.node.scale;
  return [=](const RunContext& c) {
    cpu::attention(qkv.f(c), kc.f(c), vc.f(c), pos.i(c), mask.i(c), s, scale, out.f(c));
  };
}

TypeOf infer_rms_norm(const NodeView& v) {  // x [..., C], gamma [C]
  need(!v.in(0).shape.empty() && v.in(1).shape == Shape{v.in(0).shape.back()} && is_f32(v.in(0)) && is_f32(v.in(1)),
       "bad rms_norm");
  return {v.in(0).shape};
}
CpuKernel cpu_rms_norm(const CpuBindArgs& a) {
  const Ref x = a.in(0), gamma = a.in(1), out = a.out;
  const int64_t R = rows_of(a.node.shape), C = a.node.shape.back();
  const float eps = a.node.eps;
  return [=](const RunContext& c) { cpu::rms_norm(x.f(c), gamma.f(c), eps, R, C, out.f(c)); };
}

CpuKernel cpu_mul(const CpuBindArgs& a) {
  const Ref x = a.in(0), y = a.in(1), out = a.out;
  const int64_t N = shape_numel(a.node.shape);
  return [=](const RunContext& c) { cpu::mul(x.f(c), y.f(c), out.f(c), N); };
}

// x [B, T, heads * head_dim], positions [B, T] i32, inv_freq [rotary_dim / 2] f32.
TypeOf infer_rope(const NodeView& v) {
  const Node& n = v.node;
  const Shape& x = v.in(0).shape;
  need(x.size() == 3 && is_f32(v.in(0)) && n.head_dim > 0 && x[2] % n.head_dim == 0 && n.rotary_dim >= 2 &&
           n.rotary_dim % 2 == 0 && n.rotary_dim <= n.head_dim,
       "bad rope");
  need(v.in(1).shape == Shape{x[0], x[1]} && is_i32(v.in(1)), "bad rope positions");
  need(v.in(2).shape == Shape{n.rotary_dim / 2} && is_f32(v.in(2)), "bad rope inv_freq");
  need(n.rope_base >= 0 && (n.rope_base == 0 || n.rope_original_max >= 1), "bad rope dynamic");
  return {x};
}
std::string describe_rope(const Node& n) {
  return fmt::format(" head_dim={} rotary={} factor={:.6g}{}", n.head_dim, n.rotary_dim, n.scale,
                     n.rope_base > 0 ? fmt::format(" dynamic base={} x{}", n.rope_base, n.rope_factor) : "");
}
CpuKernel cpu_rope(const CpuBindArgs& a) {
  const Node& n = a.node;
  const Ref x = a.in(0), pos = a.in(1), freq = a.in(2), out = a.out;
  const cpu::RopeShape s{n.shape[0] * n.shape[1], n.shape[2] / n.head_dim, n.head_dim, n.rotary_dim};
  const cpu::RopeDynamic dyn{n.rope_base, n.rope_factor, n.rope_original_max};
  const float factor = n.scale;
  return [=](const RunContext& c) { cpu::rope(x.f(c), pos.i(c), freq.f(c), s, factor, dyn, out.f(c)); };
}

// q [B, T, H*D], k, v [B, T, KV*D]; k_cache, v_cache [B, KV, S, D]; cache_pos [B] i32; key_mask [B, S] i32.
TypeOf infer_attention_qkv(const NodeView& v) {
  const Node& n = v.node;
  const Shape &q = v.in(0).shape, &k = v.in(3).shape;
  need(q.size() == 3 && k.size() == 4 && v.in(4).shape == k && k[0] == q[0] && n.n_head > 0 && n.n_kv_head > 0 &&
           n.n_kv_head == k[1] && n.n_head % n.n_kv_head == 0 && q[2] == n.n_head * k[3] && n.window >= 0 &&
           q[1] <= k[2],
       "bad attention_qkv");
  need(v.in(1).shape == Shape{q[0], q[1], k[1] * k[3]} && v.in(2).shape == v.in(1).shape, "bad attention_qkv k/v");
  need(v.in(5).shape == Shape{k[0]} && v.in(6).shape == Shape{k[0], k[2]} && is_i32(v.in(5)) && is_i32(v.in(6)),
       "bad attention_qkv inputs");
  for (size_t i = 0; i < 5; ++i) need(is_f32(v.in(i)), "bad attention_qkv dtype");
  return {q};
}
std::string describe_attention_qkv(const Node& n) {
  return fmt::format(" heads={} kv_heads={} scale={:.6g} window={}", n.n_head, n.n_kv_head, n.scale, n.window);
}
CpuKernel cpu_attention_qkv(const CpuBindArgs& a) {
  const Node& n = a.node;
  const Ref q = a.in(0), k = a.in(1), v = a.in(2), kc = a.in(3), vc = a.in(4), pos = a.in(5), mask = a.in(6);
  const Ref out = a.out;
  const Shape& cache = a.in_shape(3);  // [B, KV, S, D]
  const cpu::AttentionShape s{n.shape[0], n.shape[1], cache[2], n.n_head, cache[3], cache[1], n.window};
  const int64_t qs = a.in_shape(0)[2], ks = a.in_shape(1)[2], vs = a.in_shape(2)[2];
  const float scale = n.scale;
  return [=](const RunContext& c) {
    cpu::attention_qkv({q.f(c), k.f(c), v.f(c), qs, ks, vs}, kc.f(c), vc.f(c), pos.i(c), mask.i(c), s, scale,
                       out.f(c));
  };
}

TypeOf infer_last_position(const NodeView& v) {  // [B, T, C] -> [B, 1, C]
  need(v.in(0).shape.size() == 3 && is_f32(v.in(0)), "bad last_position");
  Shape s = v.in(0).shape;
  s[1] = 1;
  return {s};
}
CpuKernel cpu_last_position(const CpuBindArgs& a) {
  const Ref x = a.in(0), out = a.out;
  const Shape& xs = a.in_shape(0);
  const int64_t B = xs[0], T = xs[1], C = xs[2];
  return [=](const RunContext& c) {
    for (int64_t b = 0; b < B; ++b) std::memcpy(out.f(c) + b * C, x.f(c) + (b * T + T - 1) * C, C * sizeof(float));
  };
}

TypeOf infer_select_tokens(const NodeView& v) {  // logits [B, 1, V] -> tokens [B] i32
  need(v.in(0).shape.size() == 3 && v.in(0).shape[1] == 1 && is_f32(v.in(0)) && v.in(1).op == OpKind::kInput &&
           v.in(1).name == "select_state",
       "bad select_tokens");
  return {{v.in(0).shape[0]}, DType::kI32};
}
CpuKernel cpu_select_tokens(const CpuBindArgs& a) {
  const Ref logits = a.in(0), state = a.in(1), out = a.out;
  const int64_t B = a.in_shape(0)[0], V = a.in_shape(0)[2];
  return [=](const RunContext& c) { static_cast<TokenSelect*>(state.get(c))->select(logits.f(c), B, V, out.i(c)); };
}

// tokens, select_state, cache_pos [B] i32, then the states [B, ...] (KV caches [B, H, S, D], key mask [B, S]) that
// move with their beams. The output is scratch for the largest state (the first: callers put a KV cache first).
TypeOf infer_reorder_rows(const NodeView& v) {
  const Node& n = v.node;
  need(v.in(0).op == OpKind::kSelectTokens && v.in(1).op == OpKind::kInput && v.in(1).name == "select_state" &&
           is_i32(v.in(2)) && v.in(2).shape.size() == 1 && n.step_tokens >= 1,
       "bad reorder_rows");
  const int64_t B = v.in(2).shape[0];
  const size_t scratch = static_cast<size_t>(shape_numel(v.in(3).shape)) * dtype_size(v.in(3).dtype);
  for (size_t k = 3; k < n.inputs.size(); ++k) {
    const Shape& s = v.in(k).shape;
    need((s.size() == 4 || s.size() == 2) && s[0] == B && v.in(k).op == OpKind::kInput &&
             n.step_tokens <= (s.size() == 4 ? s[2] : s[1]),
         "bad reorder_rows state");
    need(static_cast<size_t>(shape_numel(s)) * dtype_size(v.in(k).dtype) <= scratch, "bad reorder_rows scratch");
  }
  return {v.in(3).shape, v.in(3).dtype};
}
std::string describe_reorder_rows(const Node& n) { return fmt::format(" T={}", n.step_tokens); }
CpuKernel cpu_reorder_rows(const CpuBindArgs& a) {
  const Node& n = a.node;
  const Ref state = a.in(1), pos = a.in(2), out = a.out;
  const int64_t B = a.in_shape(2)[0], T = n.step_tokens;
  std::vector<std::pair<Ref, Shape>> states;
  std::vector<size_t> item;
  for (size_t k = 3; k < n.inputs.size(); ++k) {
    states.emplace_back(a.in(k), a.in_shape(k));
    item.push_back(dtype_size(a.input(k).dtype));
  }
  return [=](const RunContext& c) {
    const int32_t* src = static_cast<const TokenSelect*>(state.get(c))->source_rows();
    if (!src) return;
    const int32_t* p = pos.i(c);
    const int64_t filled = *std::max_element(p, p + B) + T;
    for (size_t k = 0; k < states.size(); ++k)
      cpu::gather_rows(static_cast<char*>(states[k].first.get(c)), states[k].second, item[k], filled, src,
                       static_cast<char*>(out.get(c)));
  };
}

using A = Attr;
constexpr OpDef kOps[] = {
    // op, name, attributes, inputs min..max, bound, side effect, shape rule, dump, CPU launch
    {OpKind::kInput, "input", 0, 0, 0, true, false, same_as_input, nullptr, nullptr},
    {OpKind::kWeight, "weight", 0, 0, 0, true, false, same_as_input, nullptr, nullptr},
    {OpKind::kEmbedding, "embedding", 0, 2, 2, false, false, infer_embedding, nullptr, cpu_embedding},
    {OpKind::kEmbeddingSum, "embedding_sum", 0, 4, 4, false, false, infer_embedding_sum, nullptr, cpu_embedding_sum},
    {OpKind::kAdd, "add", 0, 2, 2, false, false, elementwise, nullptr, cpu_add},
    {OpKind::kLayerNorm, "layer_norm", attrs(A::kEps), 3, 3, false, false, infer_layer_norm, eps_attr, cpu_layer_norm},
    {OpKind::kLinear, "linear", attrs(A::kActivation, A::kHasAct, A::kResidual), 2, 3, false, false, infer_linear,
     describe_linear, cpu_linear},
    {OpKind::kLinearTransposed, "linear_t", 0, 2, 2, false, false, infer_linear_t, nullptr, cpu_linear_t},
    {OpKind::kActivation, "activation", attrs(A::kActivation), 1, 1, false, false, infer_activation,
     [](const Node& n) { return fmt::format(" {}", activation_name(n.act)); }, cpu_activation},
    {OpKind::kAttention, "attention", attrs(A::kHeads, A::kScale), 5, 5, false, true, infer_attention,
     describe_attention, cpu_attention},
    {OpKind::kRmsNorm, "rms_norm", attrs(A::kEps), 2, 2, false, false, infer_rms_norm, eps_attr, cpu_rms_norm},
    {OpKind::kMul, "mul", 0, 2, 2, false, false, elementwise, nullptr, cpu_mul},
    {OpKind::kRope, "rope", attrs(A::kHeadDim, A::kRotaryDim, A::kScale, A::kRopeBase, A::kRopeFactor, A::kRopeMax),
     3, 3, false, false, infer_rope, describe_rope, cpu_rope},
    {OpKind::kAttentionQkv, "attention_qkv", attrs(A::kHeads, A::kKvHeads, A::kScale, A::kWindow), 7, 7, false, true,
     infer_attention_qkv, describe_attention_qkv, cpu_attention_qkv},
    {OpKind::kLastPosition, "last_position", 0, 1, 1, false, false, infer_last_position, nullptr, cpu_last_position},
    {OpKind::kSelectTokens, "select_tokens", 0, 2, 2, false, false, infer_select_tokens, nullptr, cpu_select_tokens},
    {OpKind::kReorderRows, "reorder_rows", attrs(A::kStepTokens), 4, -1, false, true, infer_reorder_rows,
     describe_reorder_rows, cpu_reorder_rows},
};

constexpr bool in_enum_order() {
  if (std::size(kOps) != static_cast<size_t>(kOpCount)) return false;
  for (int i = 0; i < kOpCount; ++i)
    if (static_cast<int>(kOps[i].op) != i || (kOps[i].bind_cpu == nullptr) != kOps[i].bound) return false;
  return true;
}
static_assert(in_enum_order(), "kOps must have one entry per OpKind, in enum order, each with a CPU launch");

}  // namespace

const Node& NodeView::in(size_t k) const {
  if (k >= node.inputs.size()) throw OpError(fmt::format("{} has too few inputs", op_def(node.op).name));
  return graph.nodes[node.inputs[k]];
}

std::span<const AttrDef> attr_defs() { return kAttrs; }
std::span<const OpDef> op_defs() { return kOps; }

const OpDef& op_def(OpKind op) {
  const int i = static_cast<int>(op);
  JITGEN_CHECK(i >= 0 && i < kOpCount);
  return kOps[i];
}

const OpDef* op_def_by_name(const std::string& name) {
  for (const OpDef& d : kOps)
    if (name == d.name) return &d;
  return nullptr;
}

TypeOf infer_type(const Graph& g, const Node& n) {
  const OpDef& d = op_def(n.op);
  const int count = static_cast<int>(n.inputs.size());
  if (count < d.min_inputs || (d.max_inputs >= 0 && count > d.max_inputs))
    throw OpError(fmt::format("{} takes {} inputs, not {}", d.name,
                              d.max_inputs == d.min_inputs ? std::to_string(d.min_inputs)
                              : d.max_inputs < 0          ? fmt::format("at least {}", d.min_inputs)
                                                          : fmt::format("{} to {}", d.min_inputs, d.max_inputs),
                              count));
  for (const AttrDef& a : kAttrs)
    if (!(d.attrs & attr_bit(a.attr)) && a.get(n) != a.default_value)
      throw OpError(fmt::format("{} has attribute {} it does not take", d.name, a.key));
  return d.infer(NodeView{g, n});
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kGeluTanh: return "gelu_tanh";
    case Activation::kGeluErf: return "gelu_erf";
    case Activation::kRelu: return "relu";
    case Activation::kSilu: return "silu";
  }
  return "?";
}

}  // namespace jitgen
