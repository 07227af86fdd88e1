#include "graph/eager_builder.h"

#include <algorithm>

#include <fmt/format.h>

#include "ops/cpu_kernels.h"

namespace jitgen {

const Tensor& EagerBuilder::tensor(Value v) const {
  JITGEN_CHECK(v.id >= 0 && v.id < static_cast<int>(values_.size()));
  return values_[v.id];
}

Value EagerBuilder::push(Tensor t) {
  values_.push_back(std::move(t));
  return Value{static_cast<int>(values_.size()) - 1};
}

Value EagerBuilder::input(const std::string& name) {
  auto it = bindings_.find(name);
  if (it == bindings_.end()) throw Error(ErrorCode::kInternal, fmt::format("step input \"{}\" is not bound", name));
  return push(it->second);
}

Value EagerBuilder::weight(const Tensor& t, const std::string&) { return push(t); }

Value EagerBuilder::embedding(Value table, Value ids) {
  const Tensor& tab = tensor(table);
  const Tensor& id = tensor(ids);
  Shape out_shape = id.shape();
  out_shape.push_back(tab.dim(1));
  Tensor out = Tensor::zeros(out_shape);
  cpu::embedding(tab.f32(), tab.dim(0), tab.dim(1), id.i32(), id.numel(), out.f32());
  return push(std::move(out));
}

Value EagerBuilder::add(Value a, Value b) {
  const Tensor& x = tensor(a);
  const Tensor& y = tensor(b);
  JITGEN_CHECK(x.shape() == y.shape());
  Tensor out = Tensor::zeros(x.shape());
  cpu::add(x.f32(), y.f32(), out.f32(), x.numel());
  return push(std::move(out));
}

Value EagerBuilder::layer_norm(Value x, Value gamma, Value beta, float eps) {
  const Tensor& in = tensor(x);
  Tensor out = Tensor::zeros(in.shape());
  cpu::layer_norm(in.f32(), tensor(gamma).f32(), tensor(beta).f32(), eps, rows_of(in.shape()), in.dim(-1),
                  out.f32());
  return push(std::move(out));
}

Value EagerBuilder::linear(Value x, Value w, Value bias) {
  const Tensor& in = tensor(x);
  const Tensor& wt = tensor(w);
  JITGEN_CHECK(in.dim(-1) == wt.dim(0));
  Tensor out = Tensor::zeros(with_last(in.shape(), wt.dim(1)));
  cpu::linear(in.f32(), wt.f32(), bias.valid() ? tensor(bias).f32() : nullptr, rows_of(in.shape()), wt.dim(0),
              wt.dim(1), out.f32());
  return push(std::move(out));
}

Value EagerBuilder::linear_transposed(Value x, Value w) {
  const Tensor& in = tensor(x);
  const Tensor& wt = tensor(w);
  JITGEN_CHECK(in.dim(-1) == wt.dim(1));
  Tensor out = Tensor::zeros(with_last(in.shape(), wt.dim(0)));
  cpu::linear_transposed(in.f32(), wt.f32(), rows_of(in.shape()), wt.dim(1), wt.dim(0), out.f32());
  return push(std::move(out));
}

Value EagerBuilder::activation(Value x, Activation kind) {
  const Tensor& in = tensor(x);
  Tensor out = Tensor::zeros(in.shape());
  cpu::activation(in.f32(), out.f32(), in.numel(), kind);
  return push(std::move(out));
}

Value EagerBuilder::attention(Value qkv, Value k_cache, Value v_cache, Value cache_pos, Value key_mask,
                              int n_head, float scale) {
  const Tensor& x = tensor(qkv);  // [B, T, 3C]
  Tensor kc = tensor(k_cache);    // [B, H, S, D] (shared storage: written in place)
  Tensor vc = tensor(v_cache);
  const Tensor& mask = tensor(key_mask);  // [B, S]
  cpu::AttentionShape s{x.dim(0), x.dim(1), kc.dim(2), n_head, kc.dim(3)};
  JITGEN_CHECK(kc.dim(0) == s.B && kc.dim(1) == s.H && x.dim(2) == 3 * s.H * s.D);
  JITGEN_CHECK(mask.dim(0) == s.B && mask.dim(1) == s.S);
  Tensor out = Tensor::zeros({s.B, s.T, s.H * s.D});
  cpu::attention(x.f32(), kc.f32(), vc.f32(), tensor(cache_pos).i32(), mask.i32(), s, scale, out.f32());
  return push(std::move(out));
}

Value EagerBuilder::rms_norm(Value x, Value gamma, float eps) {
  const Tensor& in = tensor(x);
  JITGEN_CHECK(tensor(gamma).numel() == in.dim(-1));
  Tensor out = Tensor::zeros(in.shape());
  cpu::rms_norm(in.f32(), tensor(gamma).f32(), eps, rows_of(in.shape()), in.dim(-1), out.f32());
  return push(std::move(out));
}

Value EagerBuilder::mul(Value a, Value b) {
  const Tensor& x = tensor(a);
  const Tensor& y = tensor(b);
  JITGEN_CHECK(x.shape() == y.shape());
  Tensor out = Tensor::zeros(x.shape());
  cpu::mul(x.f32(), y.f32(), out.f32(), x.numel());
  return push(std::move(out));
}

Value EagerBuilder::rope(Value x, Value positions, Value inv_freq, const RopeAttrs& a) {
  const Tensor& in = tensor(x);  // [B, T, heads * D]
  const Tensor& pos = tensor(positions);
  JITGEN_CHECK(in.shape().size() == 3 && pos.numel() == in.dim(0) * in.dim(1) && in.dim(2) % a.head_dim == 0 &&
               tensor(inv_freq).numel() == a.rotary_dim / 2);
  Tensor out = Tensor::zeros(in.shape());
  const cpu::RopeShape s{in.dim(0) * in.dim(1), in.dim(2) / a.head_dim, a.head_dim, a.rotary_dim};
  cpu::rope(in.f32(), pos.i32(), tensor(inv_freq).f32(), s, a.attention_factor,
            {a.dynamic_base, a.dynamic_factor, a.original_max}, out.f32());
  return push(std::move(out));
}

Value EagerBuilder::attention_qkv(Value q, Value k, Value v, Value k_cache, Value v_cache, Value cache_pos,
                                 Value key_mask, const AttentionAttrs& a) {
  const Tensor& qt = tensor(q);  // [B, T, H*D]
  const Tensor& kt = tensor(k);  // [B, T, KV*D]
  const Tensor& vt = tensor(v);
  Tensor kc = tensor(k_cache);   // [B, KV, S, D] (shared storage: written in place)
  Tensor vc = tensor(v_cache);
  const Tensor& mask = tensor(key_mask);  // [B, S]
  const cpu::AttentionShape s{qt.dim(0), qt.dim(1), kc.dim(2), a.n_head, kc.dim(3), a.n_kv_head, a.window};
  JITGEN_CHECK(kc.dim(0) == s.B && kc.dim(1) == a.n_kv_head && qt.dim(2) == s.H * s.D &&
               kt.dim(2) == a.n_kv_head * s.D && vt.shape() == kt.shape());
  JITGEN_CHECK(mask.dim(0) == s.B && mask.dim(1) == s.S);
  Tensor out = Tensor::zeros({s.B, s.T, s.H * s.D});
  cpu::attention_qkv({qt.f32(), kt.f32(), vt.f32(), qt.dim(2), kt.dim(2), vt.dim(2)}, kc.f32(), vc.f32(),
                     tensor(cache_pos).i32(), mask.i32(), s, a.scale, out.f32());
  return push(std::move(out));
}

Value EagerBuilder::select_tokens(Value logits, Value) {
  JITGEN_CHECK(select_ != nullptr);
  const Tensor& l = tensor(logits);  // [B, 1, V]
  Tensor out = Tensor::zeros({l.dim(0)}, DType::kI32);
  select_->select(l.f32(), l.dim(0), l.dim(2), out.i32());
  return push(std::move(out));
}

Value EagerBuilder::reorder_rows(Value, Value, Value cache_pos, int step_tokens, const std::vector<Value>& states) {
  JITGEN_CHECK(select_ != nullptr);
  const int32_t* src = select_->source_rows();
  if (!src) return push(Tensor::zeros({1}, DType::kI32));
  const Tensor& pos = tensor(cache_pos);
  const int64_t filled = *std::max_element(pos.i32(), pos.i32() + pos.numel()) + step_tokens;
  for (Value v : states) {
    Tensor t = tensor(v);  // shares storage: permuted in place
    std::vector<char> scratch(t.nbytes());
    cpu::gather_rows(static_cast<char*>(t.data()), t.shape(), dtype_size(t.dtype()), filled, src, scratch.data());
  }
  return push(Tensor::zeros({1}, DType::kI32));
}

Value EagerBuilder::last_position(Value x) {
  const Tensor& in = tensor(x);  // [B, T, C]
  const int64_t B = in.dim(0), T = in.dim(1), C = in.dim(2);
  Tensor out = Tensor::zeros({B, 1, C});
  for (int64_t b = 0; b < B; ++b)
    std::copy_n(in.f32() + (b * T + T - 1) * C, C, out.f32() + b * C);
  return push(std::move(out));
}

}  // namespace jitgen
