#pragma once
// The shared blocks the families compose their steps from, as llama.cpp's build_norm / build_attn / build_ffn: the
// step's bound inputs, an nn.Linear (or GPT-2 Conv1D) module, nn.LayerNorm and LlamaRMSNorm, self-attention with its
// projections (and rotary embeddings), the gated (LlamaMLP) and plain (GPT-2 / OPT) MLPs, the lm_head. Each is a few
// Builder calls, so the same code runs eagerly and is traced for the compiled step.
//
// Weight nodes carry the names HF gives the tensors (module name + ".weight" / ".bias"): the plan store binds them
// by those names and Family::weights_by_name() lists them. Each block creates its leaf nodes in a fixed order
// (weight before bias, k_cache before v_cache), never inside one call's argument list, whose evaluation order
// C++ leaves to the compiler: the same model traces to the same plan file with every compiler.
//
// Shapes: B = batch rows, T = new tokens, S = KV capacity, C = hidden size, H = query heads, KV = key/value heads,
// D = head dim, I = MLP width, V = vocab, K / N = a linear's in / out features. Every tensor is f32; linear weights
// are in kernel layout [K, N] (models/weight_layout.h), and their prepared bf16 / int8 / int4 panels
// (ops/prepared_weights.h) are found by the weight's data when the step runs.
#include <string>

#include "core/tensor.h"
#include "graph/builder.h"

namespace jitgen::blocks {

// The step inputs every family reads, under the names the step runners bind (exec/step_plan.h).
struct StepInputs {
  Value ids;        // "input_ids" [B, T] i32
  Value positions;  // "position_ids" [B, T] i32: cumsum(attention_mask) - 1, so left pads do not shift positions
  Value cache_pos;  // "cache_pos" [B] i32: the KV slot each row writes its first new token at
  Value key_mask;   // "key_mask" [B, S] i32: 1 where a slot holds a real (not padded) token
  static StepInputs read(Builder& b);
};

// The Activation for an HF ACT2FN name as io::normalize_activation leaves it: silu, relu, gelu_new /
// gelu_pytorch_tanh / gelu_fast (tanh form), gelu (erf form). Anything else throws kInvalidFile naming config.json's
// `field` ("hidden_act", "activation_function").
Activation hf_activation(const std::string& name, const char* field);

// An undefined Tensor: a Linear without bias (OPT project_in / project_out, Llama without attention_bias).
const Tensor& no_bias();

// An nn.Linear (HF Conv1D for GPT-2) module: y = x @ weight + bias.
struct Linear {
  std::string name;      // "model.layers.0.self_attn.q_proj": nodes "<name>.weight", "<name>.bias"
  const Tensor& weight;  // [K, N] f32, kernel layout
  const Tensor& bias;    // [N] f32, or no_bias()
};
Value linear(Builder& b, Value x, const Linear& l);  // x [..., K] -> [..., N]

// nn.LayerNorm module `name` over the last dim (biased variance, as torch): nodes "<name>.weight", "<name>.bias",
// weight and bias [C] f32. x [..., C] -> [..., C]
Value layer_norm(Builder& b, Value x, const std::string& name, const Tensor& weight, const Tensor& bias, float eps);
// LlamaRMSNorm module `name`: x * rsqrt(mean(x^2) + eps) * weight; node "<name>.weight" [C] f32. x [..., C] -> [..., C]
Value rms_norm(Builder& b, Value x, const std::string& name, const Tensor& weight, float eps);

// Rotary embeddings on q and k (LlamaRotaryEmbedding + apply_rotary_pos_emb, rotate_half convention): inv_freq
// [rotary_dim / 2] f32 is a weight node the family made from its rope config (models/llama/rope.h).
struct Rope {
  Value inv_freq;
  RopeAttrs attrs;
};

// The four projections of a self_attn module (LlamaAttention, OPTAttention; OPT calls o_proj out_proj):
// q_proj [C, H*D], k_proj and v_proj [C, KV*D], o_proj [H*D, C].
struct AttentionProjections {
  Linear q_proj, k_proj, v_proj, o_proj;
};

// Self-attention of layer `layer` over its KV cache inputs "k_cache.<layer>", "v_cache.<layer>" ([B, KV, S, D] f32):
// q, k, v projections, rope on q and k when `rope` is given, causal attention over the cache (GQA / MQA / sliding
// window per `attrs`: the scale is HF's head_dim ** -0.5 or the family's own), o_proj. h [B, T, C] -> [B, T, C]
Value self_attention(Builder& b, Value h, const StepInputs& in, int layer, const AttentionProjections& proj,
                     const AttentionAttrs& attrs, const Rope* rope = nullptr);
// GPT2Attention: one packed q | k | v projection c_attn [C, 3C], plain multi-head attention over the cache
// ([B, H, S, D]) with `scale`, then c_proj [C, C]. h [B, T, C] -> [B, T, C]
Value packed_self_attention(Builder& b, Value h, const StepInputs& in, int layer, const Linear& c_attn,
                            const Linear& c_proj, int n_head, float scale);

// LlamaMLP: down_proj(act(gate_proj(h)) * up_proj(h)); gate_proj, up_proj [C, I], down_proj [I, C].
// h [B, T, C] -> [B, T, C]
Value gated_mlp(Builder& b, Value h, const Linear& gate_proj, const Linear& up_proj, const Linear& down_proj,
                Activation act);
// GPT2MLP (c_fc, c_proj) and OPT's fc1 / fc2: down(act(up(h))); up [C, I], down [I, C]. h [B, T, C] -> [B, T, C]
Value mlp(Builder& b, Value h, const Linear& up, const Linear& down, Activation act);

// x [B, T, C] @ head [V, C]^T -> logits [B, T, V]. The node is "lm_head.weight"; a tied head passes the embedding
// table, as HF's tie_weights() makes lm_head share it.
Value lm_head(Builder& b, Value x, const Tensor& head);

}  // namespace jitgen::blocks
