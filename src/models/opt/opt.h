#pragma once
// OPT (HF OPTForCausalLM, transformers models/opt/modeling_opt.py): weights, loading from an HF folder, and the one
// model definition written against the Builder. Dimension legend: C = hidden_size, W = word_embed_proj_dim (= C
// unless the model projects), F = ffn_dim, H = heads, D = C / H, V = vocab, P = max_position_embeddings.
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "graph/builder.h"
#include "models/opt/config.h"
#include "models/weight_layout.h"
#include "ops/prepared_weights.h"

namespace jitgen::opt {

// Linear weights are held as [in, out] (HF's nn.Linear [out, in], transposed once at load), as the linear op and
// its prepared panels take them. Biases and layer-norm parameters are empty when the config has none
// (enable_bias false, layer_norm_elementwise_affine false).
struct Layer {
  Tensor self_attn_layer_norm_weight, self_attn_layer_norm_bias;  // [C]
  Tensor q_proj, k_proj, v_proj, out_proj;                        // [C, C]
  Tensor q_bias, k_bias, v_bias, out_bias;                        // [C]
  Tensor final_layer_norm_weight, final_layer_norm_bias;          // [C]
  Tensor fc1, fc1_bias;                                           // [C, F], [F]
  Tensor fc2, fc2_bias;                                           // [F, C], [C]
};

struct Weights {
  Tensor embed_tokens;     // [V, W]; also the lm_head when tied
  Tensor embed_positions;  // [P + 2, C] as HF stores it (row p + 2 holds position p)
  Tensor positions;        // [P, C]: rows 2.. of embed_positions, so position ids index it directly
  Tensor project_in;       // [W, C] or empty
  Tensor project_out;      // [C, W] or empty
  std::vector<Layer> layers;
  Tensor final_layer_norm_weight, final_layer_norm_bias;  // [C] (pre-LN models with affine norms) or empty
  Tensor lm_head;          // [V, W]; the embed_tokens storage when tied
  Tensor ones, zeros;      // [C]: the gamma / beta of layer norms without elementwise affine
  std::shared_ptr<cpu::PreparedWeights> prepared;  // non-const: release_source (load only)
};

// Visits every checkpoint tensor with its HF name (the "model.decoder." form save_pretrained writes) and its shape
// as HF saves it ([out, in] for linears, `linear` true: the loader transposes those). One list serves loading, random
// init and checks.
template <typename Wt, typename Fn>
void for_each_tensor(const OptConfig& c, Wt& w, Fn&& fn) {
  const int64_t C = c.hidden_size, W = c.embed_dim(), F = c.ffn_dim, V = c.vocab_size;
  const int64_t P = c.max_position_embeddings + 2;
  const bool affine = c.layer_norm_elementwise_affine, bias = c.enable_bias;
  const std::string d = "model.decoder.";
  fn(d + "embed_tokens.weight", w.embed_tokens, Shape{V, W}, false);
  fn(d + "embed_positions.weight", w.embed_positions, Shape{P, C}, false);
  if (c.projects()) {
    fn(d + "project_in.weight", w.project_in, Shape{C, W}, true);
    fn(d + "project_out.weight", w.project_out, Shape{W, C}, true);
  }
  if (c.final_layer_norm() && affine) {
    fn(d + "final_layer_norm.weight", w.final_layer_norm_weight, Shape{C}, false);
    fn(d + "final_layer_norm.bias", w.final_layer_norm_bias, Shape{C}, false);
  }
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    auto& l = w.layers[i];
    const std::string p = d + "layers." + std::to_string(i) + ".";
    auto linear = [&](const std::string& name, Tensor& wt, Tensor& b, int64_t out, int64_t in) {
      fn(p + name + ".weight", wt, Shape{out, in}, true);
      if (bias) fn(p + name + ".bias", b, Shape{out}, false);
    };
    linear("self_attn.k_proj", l.k_proj, l.k_bias, C, C);
    linear("self_attn.v_proj", l.v_proj, l.v_bias, C, C);
    linear("self_attn.q_proj", l.q_proj, l.q_bias, C, C);
    linear("self_attn.out_proj", l.out_proj, l.out_bias, C, C);
    if (affine) {
      fn(p + "self_attn_layer_norm.weight", l.self_attn_layer_norm_weight, Shape{C}, false);
      fn(p + "self_attn_layer_norm.bias", l.self_attn_layer_norm_bias, Shape{C}, false);
    }
    linear("fc1", l.fc1, l.fc1_bias, F, C);
    linear("fc2", l.fc2, l.fc2_bias, C, F);
    if (affine) {
      fn(p + "final_layer_norm.weight", l.final_layer_norm_weight, Shape{C}, false);
      fn(p + "final_layer_norm.bias", l.final_layer_norm_bias, Shape{C}, false);
    }
  }
  if (!c.tie_word_embeddings) fn("lm_head.weight", w.lm_head, Shape{V, W}, false);
}

// Loads safetensors (single or sharded, F32 / F16 / BF16) from `dir`. Tensor names as HF accepts them: with the
// "model." prefix (OPTForCausalLM.save_pretrained) or without it (the original facebook/opt-* checkpoints, saved
// from OPTModel). Errors name the file and the tensor.
Weights load_weights(const std::string& dir, const OptConfig& c);
// The weights finish_weights packs, in the order a step reads them (a tied lm_head as the embedding table's slot).
std::vector<PackedWeight> packed_weights(const OptConfig& c, Weights& w);
// Fills positions, lm_head (tied), the affine-free gamma / beta and the prepared panels; linears in kernel layout, or
// noted in `reads` (read as they are packed).
void finish_weights(const OptConfig& c, Weights& w, cpu::WeightStorage storage, WeightReads* reads = nullptr);

// Logits [B, T, V] (or [B, 1, V]) for the step inputs of models/family.h. Position ids are those of the engine
// (cumsum(attention_mask) - 1, pads at 1, as HF generate passes them); the table lookup adds HF's offset 2.
Value build(Builder& b, const OptConfig& c, const Weights& w, bool last_position_only);

}  // namespace jitgen::opt
