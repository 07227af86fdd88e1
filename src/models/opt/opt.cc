#include "models/opt/opt.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "io/safetensors.h"
#include "jitgen/error.h"
#include "models/blocks/blocks.h"
#include "models/weight_layout.h"

namespace jitgen::opt {

Weights load_weights(const std::string& dir, const OptConfig& c) {
  const io::Checkpoint ckpt = io::Checkpoint::open_dir(dir);
  Weights w;
  w.layers.resize(c.num_hidden_layers);
  WeightReads reads;  // pass 1 checks every tensor and notes how to read it (models/weight_layout.h)
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
    check_f32_convertible(*e, expected);
    reads.defer(dst, [e, linear] { return WeightReads::Read{read_f32(*e, linear), nullptr}; }, e);
  });
  reads.read_all_except(packed_weights(c, w), &w.embed_tokens);
  finish_weights(c, w, cpu::weight_storage_from_env(), &reads);
  return w;
}

std::vector<PackedWeight> packed_weights(const OptConfig& c, Weights& w) {
  std::vector<PackedWeight> out;
  if (c.projects()) out.insert(out.end(), {{&w.project_in}, {&w.project_out}});
  for (Layer& l : w.layers)
    for (Tensor* t : {&l.q_proj, &l.k_proj, &l.v_proj, &l.out_proj, &l.fc1, &l.fc2}) out.push_back({t});
  out.push_back({c.tie_word_embeddings ? &w.embed_tokens : &w.lm_head, /*transposed=*/true, /*lm_head=*/true});
  return out;
}

void finish_weights(const OptConfig& c, Weights& w, cpu::WeightStorage storage, WeightReads* reads) {
  const int64_t C = c.hidden_size, P = c.max_position_embeddings;
  // HF looks position p up at row p + 2 (OPTLearnedPositionalEmbedding.offset): keep rows 2.. so the engine's
  // position ids index the table directly.
  w.positions = Tensor::zeros({P, C});
  std::memcpy(w.positions.f32(), w.embed_positions.f32() + 2 * C, static_cast<size_t>(P * C) * sizeof(float));
  w.ones = Tensor::zeros({C});
  std::fill(w.ones.f32(), w.ones.f32() + C, 1.0f);
  w.zeros = Tensor::zeros({C});
  // Read and released one at a time (models/weight_layout.h pack_weights).
  // Tied as HF tie_weights() ties (a stored lm_head is ignored): pack_weights points w.lm_head at what the head reads.
  w.prepared = pack_weights(storage, packed_weights(c, w), &w.embed_tokens, reads,
                            c.tie_word_embeddings ? &w.lm_head : nullptr);
}

Value build(Builder& b, const OptConfig& c, const Weights& w, bool last_position_only) {
  using blocks::Linear;
  const Activation act = blocks::hf_activation(c.activation_function, "activation_function");
  constexpr float kEps = 1e-5f;  // nn.LayerNorm's default: OPT does not configure it
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim())));  // HF: head_dim**-0.5
  const bool pre = c.do_layer_norm_before;
  const blocks::StepInputs in = blocks::StepInputs::read(b);
  const std::string d = "model.decoder.";
  // Without elementwise affine HF's LayerNorm has no parameters, which equals gamma 1, beta 0.
  auto norm = [&](Value x, const std::string& name, const Tensor& weight, const Tensor& bias) {
    if (c.layer_norm_elementwise_affine) return blocks::layer_norm(b, x, name, weight, bias, kEps);
    const Value ones = b.weight(w.ones, "layer_norm.ones");
    const Value zeros = b.weight(w.zeros, "layer_norm.zeros");
    return b.layer_norm(x, ones, zeros, kEps);
  };

  Value x = b.embedding(b.weight(w.embed_tokens, d + "embed_tokens.weight"), in.ids);  // [B, T, W]
  if (c.projects()) x = blocks::linear(b, x, Linear{d + "project_in", w.project_in, blocks::no_bias()});  // [B, T, C]
  x = b.add(x, b.embedding(b.weight(w.positions, d + "embed_positions.weight[2:]"), in.positions));
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const Layer& l = w.layers[i];
    const std::string p = fmt::format("{}layers.{}.", d, i), attn = p + "self_attn.";
    const std::string ln1 = p + "self_attn_layer_norm", ln2 = p + "final_layer_norm";
    Value h = pre ? norm(x, ln1, l.self_attn_layer_norm_weight, l.self_attn_layer_norm_bias) : x;
    const blocks::AttentionProjections proj{Linear{attn + "q_proj", l.q_proj, l.q_bias},
                                            Linear{attn + "k_proj", l.k_proj, l.k_bias},
                                            Linear{attn + "v_proj", l.v_proj, l.v_bias},
                                            Linear{attn + "out_proj", l.out_proj, l.out_bias}};
    const AttentionAttrs attrs{c.num_attention_heads, c.num_attention_heads, scale, 0};
    x = b.add(x, blocks::self_attention(b, h, in, i, proj, attrs));
    if (!pre) x = norm(x, ln1, l.self_attn_layer_norm_weight, l.self_attn_layer_norm_bias);
    h = pre ? norm(x, ln2, l.final_layer_norm_weight, l.final_layer_norm_bias) : x;
    x = b.add(x, blocks::mlp(b, h, Linear{p + "fc1", l.fc1, l.fc1_bias}, Linear{p + "fc2", l.fc2, l.fc2_bias}, act));
    if (!pre) x = norm(x, ln2, l.final_layer_norm_weight, l.final_layer_norm_bias);
  }
  if (last_position_only) x = b.last_position(x);  // [B, 1, C]
  if (c.final_layer_norm()) x = norm(x, d + "final_layer_norm", w.final_layer_norm_weight, w.final_layer_norm_bias);
  if (c.projects()) x = blocks::linear(b, x, Linear{d + "project_out", w.project_out, blocks::no_bias()});  // [.., W]
  return blocks::lm_head(b, x, w.lm_head);  // [B, T|1, V]
}

}  // namespace jitgen::opt
