#include "models/opt/opt.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "io/safetensors.h"
#include "jitgen/error.h"
#include "models/weight_layout.h"

namespace jitgen::opt {
namespace {

Activation activation_of(const std::string& name) {  // names as io::normalize_activation leaves them
  if (name == "relu") return Activation::kRelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::kGeluTanh;
  if (name == "gelu") return Activation::kGeluErf;
  if (name == "silu") return Activation::kSilu;
  throw_invalid_file(fmt::format("config.json: field \"activation_function\" is \"{}\", expected relu, gelu_new, "
                                 "gelu_pytorch_tanh, gelu_fast, gelu or silu",
                                 name));
}

}  // namespace

Weights load_weights(const std::string& dir, const OptConfig& c) {
  const io::Checkpoint ckpt = io::Checkpoint::open_dir(dir);
  Weights w;
  w.layers.resize(c.num_hidden_layers);
  for_each_tensor(c, w, [&](const std::string& name, Tensor& dst, const Shape& expected, bool linear) {
    // HF adds the base model prefix "model." when a checkpoint lacks it (facebook/opt-* were saved from OPTModel).
    const bool prefixed = name.rfind("model.", 0) == 0;
    const io::TensorEntry* e = ckpt.find(name);
    if (!e && prefixed) e = ckpt.find(name.substr(6));
    if (!e)
      throw_invalid_file(fmt::format("{}: missing tensor \"{}\" ({}config.json: {} layers{}{}{})", ckpt.description(),
                                     name, prefixed ? fmt::format("also looked for \"{}\"; ", name.substr(6)) : "",
                                     c.num_hidden_layers, c.enable_bias ? ", enable_bias true" : "",
                                     c.layer_norm_elementwise_affine ? ", layer_norm_elementwise_affine true" : "",
                                     name == "lm_head.weight" ? ", tie_word_embeddings false" : ""));
    dst = checked_f32(*e, expected, linear);
  });
  finish_weights(c, w, cpu::weight_storage_from_env());
  return w;
}

void finish_weights(const OptConfig& c, Weights& w, cpu::WeightStorage storage) {
  const int64_t C = c.hidden_size, P = c.max_position_embeddings;
  // HF looks position p up at row p + 2 (OPTLearnedPositionalEmbedding.offset): keep rows 2.. so the engine's
  // position ids index the table directly.
  w.positions = Tensor::zeros({P, C});
  std::memcpy(w.positions.f32(), w.embed_positions.f32() + 2 * C, static_cast<size_t>(P * C) * sizeof(float));
  if (c.tie_word_embeddings) w.lm_head = w.embed_tokens;  // HF tie_weights(): a stored lm_head is ignored
  w.ones = Tensor::zeros({C});
  std::fill(w.ones.f32(), w.ones.f32() + C, 1.0f);
  w.zeros = Tensor::zeros({C});
  auto p = std::make_shared<cpu::PreparedWeights>(storage);
  if (c.projects()) {
    p->add(w.project_in, false);
    p->add(w.project_out, false);
  }
  for (const Layer& l : w.layers)
    for (const Tensor* t : {&l.q_proj, &l.k_proj, &l.v_proj, &l.out_proj, &l.fc1, &l.fc2}) p->add(*t, false);
  p->add(w.lm_head, true, /*lm_head=*/true);
  w.prepared = std::move(p);
}

Value build(Builder& b, const OptConfig& c, const Weights& w, bool last_position_only) {
  const Activation act = activation_of(c.activation_function);
  constexpr float kEps = 1e-5f;  // nn.LayerNorm's default: OPT does not configure it
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim())));  // HF: head_dim**-0.5
  const bool pre = c.do_layer_norm_before;
  const Value ids = b.input("input_ids");           // [B, T]
  const Value positions = b.input("position_ids");  // [B, T]
  const Value cache_pos = b.input("cache_pos");     // [B]
  const Value key_mask = b.input("key_mask");       // [B, S]
  const std::string d = "model.decoder.";
  auto opt_weight = [&](const Tensor& t, const std::string& name) {
    return t.defined() ? b.weight(t, name) : Value{};  // numel() of an empty tensor is 1
  };
  // A layer norm; without elementwise affine HF has no parameters, which equals gamma 1, beta 0.
  auto norm = [&](Value x, const Tensor& gamma, const Tensor& beta, const std::string& name) {
    if (!c.layer_norm_elementwise_affine)
      return b.layer_norm(x, b.weight(w.ones, "layer_norm.ones"), b.weight(w.zeros, "layer_norm.zeros"), kEps);
    return b.layer_norm(x, b.weight(gamma, name + ".weight"), b.weight(beta, name + ".bias"), kEps);
  };
  auto lin = [&](Value x, const Tensor& wt, const Tensor& bias, const std::string& name) {
    return b.linear(x, b.weight(wt, name + ".weight"), opt_weight(bias, name + ".bias"));
  };

  Value x = b.embedding(b.weight(w.embed_tokens, d + "embed_tokens.weight"), ids);  // [B, T, W]
  if (c.projects()) x = b.linear(x, b.weight(w.project_in, d + "project_in.weight"), Value{});  // [B, T, C]
  x = b.add(x, b.embedding(b.weight(w.positions, d + "embed_positions.weight[2:]"), positions));
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const Layer& l = w.layers[i];
    const std::string p = fmt::format("{}layers.{}.", d, i);
    const std::string ln1 = p + "self_attn_layer_norm", ln2 = p + "final_layer_norm";
    Value h = pre ? norm(x, l.self_attn_layer_norm_weight, l.self_attn_layer_norm_bias, ln1) : x;
    const Value q = lin(h, l.q_proj, l.q_bias, p + "self_attn.q_proj");  // [B, T, C]
    const Value k = lin(h, l.k_proj, l.k_bias, p + "self_attn.k_proj");
    const Value v = lin(h, l.v_proj, l.v_bias, p + "self_attn.v_proj");
    const AttentionAttrs attn{c.num_attention_heads, c.num_attention_heads, scale, 0};
    const Value a = b.attention_qkv(q, k, v, b.input(fmt::format("k_cache.{}", i)),
                                    b.input(fmt::format("v_cache.{}", i)), cache_pos, key_mask, attn);  // [B, T, C]
    x = b.add(x, lin(a, l.out_proj, l.out_bias, p + "self_attn.out_proj"));
    if (!pre) x = norm(x, l.self_attn_layer_norm_weight, l.self_attn_layer_norm_bias, ln1);
    h = pre ? norm(x, l.final_layer_norm_weight, l.final_layer_norm_bias, ln2) : x;
    h = b.activation(lin(h, l.fc1, l.fc1_bias, p + "fc1"), act);  // [B, T, F]
    x = b.add(x, lin(h, l.fc2, l.fc2_bias, p + "fc2"));
    if (!pre) x = norm(x, l.final_layer_norm_weight, l.final_layer_norm_bias, ln2);
  }
  if (last_position_only) x = b.last_position(x);  // [B, 1, C]
  if (c.final_layer_norm()) x = norm(x, w.final_layer_norm_weight, w.final_layer_norm_bias, d + "final_layer_norm");
  if (c.projects()) x = b.linear(x, b.weight(w.project_out, d + "project_out.weight"), Value{});  // [B, 1|T, W]
  return b.linear_transposed(x, b.weight(w.lm_head, "lm_head.weight"));  // [B, T|1, V]
}

}  // namespace jitgen::opt
