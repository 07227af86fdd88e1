#include "models/gpt2/gpt2.h"

#include <cmath>

#include <fmt/format.h>

#include "io/safetensors.h"
#include "models/blocks/blocks.h"

namespace jitgen {

Gpt2Weights load_gpt2_weights(const std::string& dir, const io::Gpt2Config& config) {
  const io::Checkpoint ckpt = io::Checkpoint::open_dir(dir);
  Gpt2Weights w;
  w.h.resize(config.n_layer);
  WeightReads reads;  // pass 1 checks every tensor and notes how to read it (models/weight_layout.h)
  auto note = [&](const std::string& name, Tensor& dst, const Shape& expected) {
    const io::TensorEntry* e = ckpt.find(name);
    if (!e) e = ckpt.find("transformer." + name);
    if (!e)
      throw_invalid_file(fmt::format("{}: missing tensor \"{}\" (also looked for \"transformer.{}\")",
                                     ckpt.description(), name, name));
    check_f32_convertible(*e, expected);
    // Conv1D weights are [in, out] already: no transposition.
    reads.defer(dst, [e] { return WeightReads::Read{read_f32(*e, /*linear=*/false), nullptr}; }, e);
  };
  for_each_gpt2_tensor(config, w, note);
  const io::TensorEntry* head = ckpt.find("lm_head.weight");
  if (head && !config.tie_word_embeddings) {
    note("lm_head.weight", w.lm_head, Shape{config.vocab_size, config.n_embd});
  } else if (!config.tie_word_embeddings) {
    throw_invalid_file(fmt::format("{}: missing tensor \"lm_head.weight\" (config.json sets tie_word_embeddings "
                                   "to false)",
                                   ckpt.description()));
  }
  reads.read_all_except(packed_gpt2_weights(w, config.tie_word_embeddings), &w.wte);
  // Tied as HF does: a stored lm_head.weight is ignored (tie_weights()).
  prepare_gpt2_weights(w, config.tie_word_embeddings, cpu::weight_storage_from_env(), &reads);
  return w;
}

std::vector<PackedWeight> packed_gpt2_weights(Gpt2Weights& w, bool tied) {
  std::vector<PackedWeight> out;
  for (Gpt2Layer& l : w.h)
    for (Tensor* t : {&l.c_attn_weight, &l.attn_c_proj_weight, &l.c_fc_weight, &l.mlp_c_proj_weight}) out.push_back({t});
  out.push_back({tied ? &w.wte : &w.lm_head, /*transposed=*/true, /*lm_head=*/true});
  return out;
}

void prepare_gpt2_weights(Gpt2Weights& w, bool tied, cpu::WeightStorage storage, WeightReads* reads) {
  // Read and released one at a time (models/weight_layout.h pack_weights).
  // Tied as HF tie_weights() ties (a stored lm_head is ignored): pack_weights points w.lm_head at what the head reads.
  w.prepared = pack_weights(storage, packed_gpt2_weights(w, tied), &w.wte, reads, tied ? &w.lm_head : nullptr);
}

Value build_gpt2(Builder& b, const io::Gpt2Config& c, const Gpt2Weights& w, bool last_position_only) {
  using blocks::Linear;
  const Activation act = blocks::hf_activation(c.activation_function, "activation_function");
  const float eps = c.layer_norm_epsilon;
  const float base_scale = c.scale_attn_weights ? 1.0f / std::sqrt(static_cast<float>(c.head_dim())) : 1.0f;
  const blocks::StepInputs in = blocks::StepInputs::read(b);

  // In statements, not as add()'s arguments: the compiler picks their evaluation order, the plan's node order.
  const Value tokens = b.embedding(b.weight(w.wte, "wte.weight"), in.ids);             // [B, T, C]
  const Value positions = b.embedding(b.weight(w.wpe, "wpe.weight"), in.positions);  // [B, T, C]
  Value x = b.add(tokens, positions);
  for (int i = 0; i < c.n_layer; ++i) {
    const Gpt2Layer& l = w.h[i];
    const std::string p = fmt::format("h.{}.", i);
    const float scale = c.scale_attn_by_inverse_layer_idx ? base_scale / static_cast<float>(i + 1) : base_scale;
    Value h = blocks::layer_norm(b, x, p + "ln_1", l.ln_1_weight, l.ln_1_bias, eps);
    x = b.add(x, blocks::packed_self_attention(b, h, in, i, Linear{p + "attn.c_attn", l.c_attn_weight, l.c_attn_bias},
                                               Linear{p + "attn.c_proj", l.attn_c_proj_weight, l.attn_c_proj_bias},
                                               c.n_head, scale));
    h = blocks::layer_norm(b, x, p + "ln_2", l.ln_2_weight, l.ln_2_bias, eps);
    x = b.add(x, blocks::mlp(b, h, Linear{p + "mlp.c_fc", l.c_fc_weight, l.c_fc_bias},
                             Linear{p + "mlp.c_proj", l.mlp_c_proj_weight, l.mlp_c_proj_bias}, act));
  }
  if (last_position_only) x = b.last_position(x);  // [B, 1, C]
  x = blocks::layer_norm(b, x, "ln_f", w.ln_f_weight, w.ln_f_bias, eps);
  return blocks::lm_head(b, x, w.lm_head);  // [B, T|1, V]
}

}  // namespace jitgen
