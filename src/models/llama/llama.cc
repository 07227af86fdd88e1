#include "models/llama/llama.h"

#include <cmath>

#include <fmt/format.h>

#include "io/safetensors.h"
#include "jitgen/error.h"

namespace jitgen::llama {

Activation activation_of(const std::string& name) {
  if (name == "silu") return Activation::kSilu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::kGeluTanh;
  if (name == "gelu") return Activation::kGeluErf;
  if (name == "relu") return Activation::kRelu;
  throw_invalid_file(fmt::format("config.json: field \"hidden_act\" is \"{}\", expected silu, gelu_pytorch_tanh, "
                                 "gelu_new, gelu_fast, gelu or relu",
                                 name));
}

Weights load_weights(const std::string& dir, const LlamaConfig& c,
                     const std::optional<models::QuantizedCheckpointConfig>& quantized) {
  const io::Checkpoint ckpt = io::Checkpoint::open_dir(dir);
  Weights w;
  w.layers.resize(c.num_hidden_layers);
  for_each_tensor(c, w, [&](const std::string& name, Tensor& dst, const Shape& expected, bool linear) {
    const std::string module = name.substr(0, name.size() - std::string(".weight").size());
    if (linear && quantized && quantized->quantizes(module)) {  // expected: [out, in]
      models::QuantizedLinear q = models::load_quantized_linear(ckpt, *quantized, module, expected[1], expected[0]);
      dst = q.weight;
      w.prequantized[dst.f32()] = std::move(q.quant);
      return;
    }
    const io::TensorEntry* e = ckpt.find(name);
    if (!e)
      throw_invalid_file(fmt::format("{}: missing tensor \"{}\" (config.json: {} layers, model_type \"{}\"{})",
                                     ckpt.description(), name, c.num_hidden_layers, c.model_type,
                                     name == "lm_head.weight" ? ", tie_word_embeddings false" : ""));
    dst = checked_f32(*e, expected, linear);
  });
  finish_weights(c, w, cpu::weight_storage_from_env());
  return w;
}

void finish_weights(const LlamaConfig& c, Weights& w, cpu::WeightStorage storage) {
  if (c.tie_word_embeddings) w.lm_head = w.embed_tokens;  // HF tie_weights(): a stored lm_head is ignored
  const RopeTable rope = rope_table(c);
  w.inv_freq = Tensor::zeros({static_cast<int64_t>(rope.inv_freq.size())});
  std::copy(rope.inv_freq.begin(), rope.inv_freq.end(), w.inv_freq.f32());
  // Every linear weight goes through this one PreparedWeights::add (the place weight formats hook in).
  auto p = std::make_shared<cpu::PreparedWeights>(storage);
  for (const Layer& l : w.layers)
    for (const Tensor* t : {&l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.gate_proj, &l.up_proj, &l.down_proj}) {
      const auto pre = w.prequantized.find(t->f32());
      p->add(*t, false, false, pre == w.prequantized.end() ? nullptr : pre->second);
    }
  w.prequantized.clear();  // packed now: the plain codes (a byte per weight) are not kept
  p->add(w.lm_head, true, /*lm_head=*/true);  // 16-bit unless --quantize-lm-head, as for GPT-2 (docs/quantization.md)
  w.prepared = std::move(p);
}

Value build(Builder& b, const LlamaConfig& c, const Weights& w, bool last_position_only) {
  const Activation act = activation_of(c.hidden_act);
  const float eps = static_cast<float>(c.rms_norm_eps);
  const RopeTable rope = rope_table(c);  // attrs only: the frequencies are the inv_freq weight
  const int D = c.dim();
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));  // HF: head_dim ** -0.5
  const Value ids = b.input("input_ids");           // [B, T]
  const Value positions = b.input("position_ids");  // [B, T]
  const Value cache_pos = b.input("cache_pos");     // [B]
  const Value key_mask = b.input("key_mask");       // [B, S]
  const Value inv_freq = b.weight(w.inv_freq, "model.rotary_emb.inv_freq");
  auto lin = [&](Value x, const Tensor& wt, const Tensor& bias, const std::string& name) {
    return b.linear(x, b.weight(wt, name + ".weight"), bias.defined() ? b.weight(bias, name + ".bias") : Value{});
  };

  Value x = b.embedding(b.weight(w.embed_tokens, "model.embed_tokens.weight"), ids);  // [B, T, C]
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const Layer& l = w.layers[i];
    const std::string p = fmt::format("model.layers.{}.", i);
    Value h = b.rms_norm(x, b.weight(l.input_layernorm, p + "input_layernorm.weight"), eps);
    Value q = lin(h, l.q_proj, l.q_bias, p + "self_attn.q_proj");  // [B, T, H*D]
    Value k = lin(h, l.k_proj, l.k_bias, p + "self_attn.k_proj");  // [B, T, KV*D]
    Value v = lin(h, l.v_proj, l.v_bias, p + "self_attn.v_proj");  // [B, T, KV*D]
    q = b.rope(q, positions, inv_freq, rope.attrs);
    k = b.rope(k, positions, inv_freq, rope.attrs);
    const AttentionAttrs attn{c.num_attention_heads, c.kv_heads(), scale, c.layer_window(i)};
    Value a = b.attention_qkv(q, k, v, b.input(fmt::format("k_cache.{}", i)), b.input(fmt::format("v_cache.{}", i)),
                              cache_pos, key_mask, attn);  // [B, T, H*D]
    x = b.add(x, lin(a, l.o_proj, l.o_bias, p + "self_attn.o_proj"));
    h = b.rms_norm(x, b.weight(l.post_attention_layernorm, p + "post_attention_layernorm.weight"), eps);
    const Value gate = b.activation(lin(h, l.gate_proj, l.gate_bias, p + "mlp.gate_proj"), act);  // [B, T, I]
    const Value up = lin(h, l.up_proj, l.up_bias, p + "mlp.up_proj");
    x = b.add(x, lin(b.mul(gate, up), l.down_proj, l.down_bias, p + "mlp.down_proj"));
  }
  if (last_position_only) x = b.last_position(x);  // [B, 1, C]
  x = b.rms_norm(x, b.weight(w.norm, "model.norm.weight"), eps);
  return b.linear_transposed(x, b.weight(w.lm_head, "lm_head.weight"));  // [B, T|1, V]
}

}  // namespace jitgen::llama
