#include "models/blocks/blocks.h"

#include <fmt/format.h>

#include "jitgen/error.h"

namespace jitgen::blocks {

StepInputs StepInputs::read(Builder& b) {
  StepInputs in;
  in.ids = b.input("input_ids");
  in.positions = b.input("position_ids");
  in.cache_pos = b.input("cache_pos");
  in.key_mask = b.input("key_mask");
  return in;
}

Activation hf_activation(const std::string& name, const char* field) {
  if (name == "silu") return Activation::kSilu;
  if (name == "relu") return Activation::kRelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::kGeluTanh;
  if (name == "gelu") return Activation::kGeluErf;
  throw_invalid_file(fmt::format("config.json: field \"{}\" is \"{}\", expected silu, relu, gelu_new, "
                                 "gelu_pytorch_tanh, gelu_fast or gelu",
                                 field, name));
}

const Tensor& no_bias() {
  static const Tensor none;
  return none;
}

Value linear(Builder& b, Value x, const Linear& l) {
  const Value weight = b.weight(l.weight, l.name + ".weight");
  const Value bias = l.bias.defined() ? b.weight(l.bias, l.name + ".bias") : Value{};
  return b.linear(x, weight, bias);
}

Value layer_norm(Builder& b, Value x, const std::string& name, const Tensor& weight, const Tensor& bias, float eps) {
  const Value gamma = b.weight(weight, name + ".weight");
  const Value beta = b.weight(bias, name + ".bias");
  return b.layer_norm(x, gamma, beta, eps);
}

Value rms_norm(Builder& b, Value x, const std::string& name, const Tensor& weight, float eps) {
  return b.rms_norm(x, b.weight(weight, name + ".weight"), eps);
}

namespace {

struct KvCache {
  Value k, v;
};
KvCache kv_cache(Builder& b, int layer) {
  KvCache c;
  c.k = b.input(fmt::format("k_cache.{}", layer));
  c.v = b.input(fmt::format("v_cache.{}", layer));
  return c;
}

}  // namespace

Value self_attention(Builder& b, Value h, const StepInputs& in, int layer, const AttentionProjections& proj,
                     const AttentionAttrs& attrs, const Rope* rope) {
  Value q = linear(b, h, proj.q_proj);        // [B, T, H*D]
  Value k = linear(b, h, proj.k_proj);        // [B, T, KV*D]
  const Value v = linear(b, h, proj.v_proj);  // [B, T, KV*D]
  if (rope) {
    q = b.rope(q, in.positions, rope->inv_freq, rope->attrs);
    k = b.rope(k, in.positions, rope->inv_freq, rope->attrs);
  }
  const KvCache cache = kv_cache(b, layer);
  const Value a = b.attention_qkv(q, k, v, cache.k, cache.v, in.cache_pos, in.key_mask, attrs);  // [B, T, H*D]
  return linear(b, a, proj.o_proj);
}

Value packed_self_attention(Builder& b, Value h, const StepInputs& in, int layer, const Linear& c_attn,
                            const Linear& c_proj, int n_head, float scale) {
  const Value qkv = linear(b, h, c_attn);  // [B, T, 3C]
  const KvCache cache = kv_cache(b, layer);
  const Value a = b.attention(qkv, cache.k, cache.v, in.cache_pos, in.key_mask, n_head, scale);  // [B, T, C]
  return linear(b, a, c_proj);
}

Value gated_mlp(Builder& b, Value h, const Linear& gate_proj, const Linear& up_proj, const Linear& down_proj,
                Activation act) {
  const Value gate = b.activation(linear(b, h, gate_proj), act);  // [B, T, I]
  const Value up = linear(b, h, up_proj);                         // [B, T, I]
  return linear(b, b.mul(gate, up), down_proj);
}

Value mlp(Builder& b, Value h, const Linear& up, const Linear& down, Activation act) {
  const Value inner = b.activation(linear(b, h, up), act);  // [B, T, I]
  return linear(b, inner, down);
}

Value lm_head(Builder& b, Value x, const Tensor& head) {
  return b.linear_transposed(x, b.weight(head, "lm_head.weight"));
}

}  // namespace jitgen::blocks
