#include "models/gpt2/gpt2.h"

#include <cmath>

#include <fmt/format.h>

#include "io/safetensors.h"

namespace jitgen {

Activation parse_activation(const std::string& name) {
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::kGeluTanh;
  if (name == "gelu") return Activation::kGeluErf;
  if (name == "relu") return Activation::kRelu;
  if (name == "silu" || name == "swish") return Activation::kSilu;
  throw_invalid_file(fmt::format("config.json: field \"activation_function\" is \"{}\", expected one of gelu_new, "
                                 "gelu_pytorch_tanh, gelu_fast, gelu, relu, silu",
                                 name));
}

Gpt2Weights load_gpt2_weights(const std::string& dir, const io::Gpt2Config& config) {
  const io::Checkpoint ckpt = io::Checkpoint::open_dir(dir);
  Gpt2Weights w;
  w.h.resize(config.n_layer);
  auto fetch = [&](const std::string& name, Tensor& dst, const Shape& expected) {
    const io::TensorEntry* e = ckpt.find(name);
    if (!e) e = ckpt.find("transformer." + name);
    if (!e)
      throw_invalid_file(fmt::format("{}: missing tensor \"{}\" (also looked for \"transformer.{}\")",
                                     ckpt.description(), name, name));
    if (e->tensor.shape() != expected)
      throw_invalid_file(fmt::format("{}: tensor \"{}\" has shape {}, expected {} from config.json", e->file,
                                     e->name, shape_str(e->tensor.shape()), shape_str(expected)));
    const DType dt = e->tensor.dtype();
    if (dt != DType::kF32 && dt != DType::kF16 && dt != DType::kBF16)
      throw_invalid_file(fmt::format("{}: tensor \"{}\" has dtype {}, expected F32, F16 or BF16", e->file,
                                     e->name, dtype_name(dt)));
    // Copy out of the mapping: weights are fp32 here and kernels want aligned, owned memory.
    dst = e->tensor.to_f32();
  };
  for_each_gpt2_tensor(config, w, fetch);
  const io::TensorEntry* head = ckpt.find("lm_head.weight");
  if (head && !config.tie_word_embeddings) {
    fetch("lm_head.weight", w.lm_head, Shape{config.vocab_size, config.n_embd});
  } else if (!config.tie_word_embeddings) {
    throw_invalid_file(fmt::format("{}: missing tensor \"lm_head.weight\" (config.json sets tie_word_embeddings "
                                   "to false)",
                                   ckpt.description()));
  } else {
    w.lm_head = w.wte;  // tied, as HF does; a stored lm_head.weight is ignored like HF's tie_weights()
  }
  prepare_gpt2_weights(w, cpu::weight_storage_from_env());
  return w;
}

void prepare_gpt2_weights(Gpt2Weights& w, cpu::WeightStorage storage) {
  auto p = std::make_shared<cpu::PreparedWeights>(storage);
  for (const Gpt2Layer& l : w.h) {
    p->add(l.c_attn_weight, false);
    p->add(l.attn_c_proj_weight, false);
    p->add(l.c_fc_weight, false);
    p->add(l.mlp_c_proj_weight, false);
  }
  p->add(w.lm_head, true, /*lm_head=*/true);
  w.prepared = std::move(p);
}

Value build_gpt2(Builder& b, const io::Gpt2Config& c, const Gpt2Weights& w, bool last_position_only) {
  const Activation act = parse_activation(c.activation_function);
  const float eps = c.layer_norm_epsilon;
  const float base_scale = c.scale_attn_weights ? 1.0f / std::sqrt(static_cast<float>(c.head_dim())) : 1.0f;
  const Value ids = b.input("input_ids");        // [B, T]
  const Value positions = b.input("position_ids");  // [B, T]
  const Value cache_pos = b.input("cache_pos");  // [B]
  const Value key_mask = b.input("key_mask");    // [B, S]

  Value x = b.add(b.embedding(b.weight(w.wte, "wte.weight"), ids),  // [B, T, C]
                  b.embedding(b.weight(w.wpe, "wpe.weight"), positions));
  for (int i = 0; i < c.n_layer; ++i) {
    const Gpt2Layer& l = w.h[i];
    const std::string p = fmt::format("h.{}.", i);
    const float scale = c.scale_attn_by_inverse_layer_idx ? base_scale / static_cast<float>(i + 1) : base_scale;
    Value h = b.layer_norm(x, b.weight(l.ln_1_weight, p + "ln_1.weight"), b.weight(l.ln_1_bias, p + "ln_1.bias"),
                           eps);
    Value qkv = b.linear(h, b.weight(l.c_attn_weight, p + "attn.c_attn.weight"),  // [B, T, 3C]
                         b.weight(l.c_attn_bias, p + "attn.c_attn.bias"));
    Value a = b.attention(qkv, b.input(fmt::format("k_cache.{}", i)), b.input(fmt::format("v_cache.{}", i)),
                          cache_pos, key_mask, c.n_head, scale);  // [B, T, C]
    a = b.linear(a, b.weight(l.attn_c_proj_weight, p + "attn.c_proj.weight"),
                 b.weight(l.attn_c_proj_bias, p + "attn.c_proj.bias"));
    x = b.add(x, a);
    h = b.layer_norm(x, b.weight(l.ln_2_weight, p + "ln_2.weight"), b.weight(l.ln_2_bias, p + "ln_2.bias"), eps);
    h = b.linear(h, b.weight(l.c_fc_weight, p + "mlp.c_fc.weight"), b.weight(l.c_fc_bias, p + "mlp.c_fc.bias"));
    h = b.activation(h, act);  // [B, T, I]
    h = b.linear(h, b.weight(l.mlp_c_proj_weight, p + "mlp.c_proj.weight"),
                 b.weight(l.mlp_c_proj_bias, p + "mlp.c_proj.bias"));
    x = b.add(x, h);
  }
  if (last_position_only) x = b.last_position(x);  // [B, 1, C]
  x = b.layer_norm(x, b.weight(w.ln_f_weight, "ln_f.weight"), b.weight(w.ln_f_bias, "ln_f.bias"), eps);
  return b.linear_transposed(x, b.weight(w.lm_head, "lm_head.weight"));  // [B, T|1, V]
}

}  // namespace jitgen
