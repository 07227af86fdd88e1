#pragma once
// The Llama family (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM): weights, loading from an HF folder, and
// the one model definition written against the Builder. Dimension legend: C = hidden_size, H / KV = query / key-value
// heads, D = head_dim, I = intermediate_size, V = vocab.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "graph/builder.h"
#include "models/llama/config.h"
#include "models/llama/rope.h"
#include "models/weight_layout.h"
#include "models/quantized_checkpoint.h"
#include "ops/prepared_weights.h"

namespace jitgen::llama {

// Linear weights are held as [in, out] (HF's nn.Linear [out, in], transposed once at load): the layout the linear
// op, its fused epilogues (bias, activation, residual) and the prepared panels take.
struct Layer {
  Tensor input_layernorm;           // [C]
  Tensor q_proj, k_proj, v_proj;    // [C, H*D], [C, KV*D], [C, KV*D]
  Tensor q_bias, k_bias, v_bias;    // [H*D], [KV*D], [KV*D] (qwen2, llama attention_bias) or empty
  Tensor o_proj, o_bias;            // [H*D, C], [C] (llama attention_bias) or empty
  Tensor post_attention_layernorm;  // [C]
  Tensor gate_proj, up_proj;        // [C, I]
  Tensor gate_bias, up_bias;        // [I] (llama mlp_bias) or empty
  Tensor down_proj, down_bias;      // [I, C], [C] or empty
};

struct Weights {
  Tensor embed_tokens;  // [V, C]
  std::vector<Layer> layers;
  Tensor norm;     // [C]
  Tensor lm_head;  // [V, C]; the embed_tokens storage when tied
  Tensor inv_freq;  // [rotary / 2], from the rope config (not a checkpoint tensor)
  std::shared_ptr<cpu::PreparedWeights> prepared;  // non-const: release_source (load only)
};

// Visits every checkpoint tensor with its HF name and its shape as HF saves it ([out, in] for linears); `linear`
// is true for those (the loader transposes them). One list serves loading, saving, random init and checks.
template <typename W, typename Fn>
void for_each_tensor(const LlamaConfig& c, W& w, Fn&& fn) {
  const int64_t C = c.hidden_size, V = c.vocab_size, I = c.intermediate_size;
  const int64_t Q = static_cast<int64_t>(c.num_attention_heads) * c.dim(), K = static_cast<int64_t>(c.kv_heads()) * c.dim();
  fn("model.embed_tokens.weight", w.embed_tokens, Shape{V, C}, false);
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    auto& l = w.layers[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    fn(p + "input_layernorm.weight", l.input_layernorm, Shape{C}, false);
    fn(p + "self_attn.q_proj.weight", l.q_proj, Shape{Q, C}, true);
    fn(p + "self_attn.k_proj.weight", l.k_proj, Shape{K, C}, true);
    fn(p + "self_attn.v_proj.weight", l.v_proj, Shape{K, C}, true);
    if (c.qkv_bias()) {
      fn(p + "self_attn.q_proj.bias", l.q_bias, Shape{Q}, false);
      fn(p + "self_attn.k_proj.bias", l.k_bias, Shape{K}, false);
      fn(p + "self_attn.v_proj.bias", l.v_bias, Shape{K}, false);
    }
    fn(p + "self_attn.o_proj.weight", l.o_proj, Shape{C, Q}, true);
    if (c.o_bias()) fn(p + "self_attn.o_proj.bias", l.o_bias, Shape{C}, false);
    fn(p + "post_attention_layernorm.weight", l.post_attention_layernorm, Shape{C}, false);
    fn(p + "mlp.gate_proj.weight", l.gate_proj, Shape{I, C}, true);
    fn(p + "mlp.up_proj.weight", l.up_proj, Shape{I, C}, true);
    fn(p + "mlp.down_proj.weight", l.down_proj, Shape{C, I}, true);
    if (c.mlp_bias) {
      fn(p + "mlp.gate_proj.bias", l.gate_bias, Shape{I}, false);
      fn(p + "mlp.up_proj.bias", l.up_bias, Shape{I}, false);
      fn(p + "mlp.down_proj.bias", l.down_bias, Shape{C}, false);
    }
  }
  fn("model.norm.weight", w.norm, Shape{C}, false);
  if (!c.tie_word_embeddings) fn("lm_head.weight", w.lm_head, Shape{V, C}, false);
}

using ::jitgen::linear_to_kernel_layout;  // models/weight_layout.h

// Loads safetensors (single or sharded, F32 / F16 / BF16) from `dir`; errors name the file and the tensor. With
// `quantized` (config.json's quantization_config), the linears it quantizes are read as GPTQ / AWQ tensors.
Weights load_weights(const std::string& dir, const LlamaConfig& c,
                     const std::optional<models::QuantizedCheckpointConfig>& quantized = std::nullopt);
// The weights finish_weights packs, in the order a step reads them (a tied lm_head as the embedding table's slot).
std::vector<PackedWeight> packed_weights(const LlamaConfig& c, Weights& w);
// Fills lm_head (tied), inv_freq and the prepared panels; weights must be in kernel layout, or noted in `reads` (read
// as they are packed).
void finish_weights(const LlamaConfig& c, Weights& w, cpu::WeightStorage storage, WeightReads* reads = nullptr);

// Logits [B, T, V] (or [B, 1, V]) for the step inputs of models/family.h.
Value build(Builder& b, const LlamaConfig& c, const Weights& w, bool last_position_only);

}  // namespace jitgen::llama
