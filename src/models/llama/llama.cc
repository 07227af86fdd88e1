#include "models/llama/llama.h"

#include <cmath>

#include <fmt/format.h>

#include "io/safetensors.h"
#include "jitgen/error.h"
#include "models/blocks/blocks.h"

namespace jitgen::llama {

Weights load_weights(const std::string& dir, const LlamaConfig& c,
                     const std::optional<models::QuantizedCheckpointConfig>& quantized) {
  const io::Checkpoint ckpt = io::Checkpoint::open_dir(dir);
  Weights w;
  w.layers.resize(c.num_hidden_layers);
  WeightReads reads;  // pass 1 checks every tensor and notes how to read it (models/weight_layout.h)
  for_each_tensor(c, w, [&](const std::string& name, Tensor& dst, const Shape& expected, bool linear) {
    const std::string module = name.substr(0, name.size() - std::string(".weight").size());
    if (linear && quantized && quantized->quantizes(module)) {  // expected: [out, in]
      const int64_t K = expected[1], N = expected[0];
      models::check_quantized_linear(ckpt, *quantized, module, K, N);
      reads.defer(dst, [&ckpt, &quantized, module, K, N] {
        models::QuantizedLinear q = models::load_quantized_linear(ckpt, *quantized, module, K, N);
        return WeightReads::Read{std::move(q.weight), std::move(q.quant)};
      });
      return;
    }
    const io::TensorEntry* e = ckpt.find(name);
    if (!e)
      throw_invalid_file(fmt::format("{}: missing tensor \"{}\" (config.json: {} layers, model_type \"{}\"{})",
                                     ckpt.description(), name, c.num_hidden_layers, c.model_type,
                                     name == "lm_head.weight" ? ", tie_word_embeddings false" : ""));
    check_f32_convertible(*e, expected);
    reads.defer(dst, [e, linear] { return WeightReads::Read{read_f32(*e, linear), nullptr}; }, e);
  });
  reads.read_all_except(packed_weights(c, w), &w.embed_tokens);
  finish_weights(c, w, cpu::weight_storage_from_env(), &reads);
  return w;
}

std::vector<PackedWeight> packed_weights(const LlamaConfig& c, Weights& w) {
  std::vector<PackedWeight> out;
  for (Layer& l : w.layers)
    for (Tensor* t : {&l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.gate_proj, &l.up_proj, &l.down_proj})
      out.push_back({t});
  // 16-bit unless --quantize-lm-head, as for GPT-2 (docs/quantization.md).
  out.push_back({c.tie_word_embeddings ? &w.embed_tokens : &w.lm_head, /*transposed=*/true, /*lm_head=*/true});
  return out;
}

void finish_weights(const LlamaConfig& c, Weights& w, cpu::WeightStorage storage, WeightReads* reads) {
  const RopeTable rope = rope_table(c);
  w.inv_freq = Tensor::zeros({static_cast<int64_t>(rope.inv_freq.size())});
  std::copy(rope.inv_freq.begin(), rope.inv_freq.end(), w.inv_freq.f32());
  // Every linear weight goes through this one PreparedWeights::add (the place weight formats hook in), read and
  // released one at a time (models/weight_layout.h pack_weights).
  // Tied as HF tie_weights() ties (a stored lm_head is ignored): pack_weights points w.lm_head at what the head reads.
  w.prepared = pack_weights(storage, packed_weights(c, w), &w.embed_tokens, reads,
                            c.tie_word_embeddings ? &w.lm_head : nullptr);
}

Value build(Builder& b, const LlamaConfig& c, const Weights& w, bool last_position_only) {
  using blocks::Linear;
  const Activation act = blocks::hf_activation(c.hidden_act, "hidden_act");
  const float eps = static_cast<float>(c.rms_norm_eps);
  const int D = c.dim();
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));  // HF: head_dim ** -0.5
  const blocks::StepInputs in = blocks::StepInputs::read(b);
  // The frequencies are the inv_freq weight (finish_weights); rope_table gives the attributes.
  const blocks::Rope rope{b.weight(w.inv_freq, "model.rotary_emb.inv_freq"), rope_table(c).attrs};

  Value x = b.embedding(b.weight(w.embed_tokens, "model.embed_tokens.weight"), in.ids);  // [B, T, C]
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const Layer& l = w.layers[i];
    const std::string p = fmt::format("model.layers.{}.", i), attn = p + "self_attn.", mlp = p + "mlp.";
    Value h = blocks::rms_norm(b, x, p + "input_layernorm", l.input_layernorm, eps);
    const blocks::AttentionProjections proj{Linear{attn + "q_proj", l.q_proj, l.q_bias},
                                            Linear{attn + "k_proj", l.k_proj, l.k_bias},
                                            Linear{attn + "v_proj", l.v_proj, l.v_bias},
                                            Linear{attn + "o_proj", l.o_proj, l.o_bias}};
    const AttentionAttrs attrs{c.num_attention_heads, c.kv_heads(), scale, c.layer_window(i)};
    x = b.add(x, blocks::self_attention(b, h, in, i, proj, attrs, &rope));
    h = blocks::rms_norm(b, x, p + "post_attention_layernorm", l.post_attention_layernorm, eps);
    x = b.add(x, blocks::gated_mlp(b, h, Linear{mlp + "gate_proj", l.gate_proj, l.gate_bias},
                                   Linear{mlp + "up_proj", l.up_proj, l.up_bias},
                                   Linear{mlp + "down_proj", l.down_proj, l.down_bias}, act));
  }
  if (last_position_only) x = b.last_position(x);  // [B, 1, C]
  x = blocks::rms_norm(b, x, "model.norm", w.norm, eps);
  return blocks::lm_head(b, x, w.lm_head);  // [B, T|1, V]
}

}  // namespace jitgen::llama
