#pragma once
// The Builder: the one interface every model (and, later, the generation step) is written against.
// The eager builder (eager_builder.h) executes each call at once on real tensors; the tracing builder
// (the compiler issue) records the same calls as graph nodes with static shapes. Models never see which.
//
// Dimension legend used in shape comments: B = batch rows, T = new tokens this step, S = KV capacity,
// C = channels (n_embd), H = heads, D = head dim, V = vocab, K/N = matmul in/out features.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace jitgen {

// The token-choice part of a generation step as graphs see it: logits processors, argmax or sampling, finished
// flags and eos/pad handling, with their runtime parameters (temperature, top-k/p, penalties, seed, eos ids,
// the step counter). Bound by whoever runs the step as the input "select_state", like the KV cache, so a
// new parameter value never recompiles. An interface keeps graph/ free of generate/ (which implements it).
class TokenSelect {
 public:
  virtual ~TokenSelect() = default;
  // logits [B, V] of the step -> the token chosen for each row, tokens [B].
  virtual void select(const float* logits, int64_t B, int64_t V, int32_t* tokens) = 0;
  // Beam search: after the last select, row r of the KV cache continues old row source_rows()[r]; null = keep.
  virtual const int32_t* source_rows() const { return nullptr; }
};

// A handle to a value produced or bound inside one Builder. Only meaningful for that builder.
struct Value {
  int id = -1;
  bool valid() const { return id >= 0; }
};

enum class Activation { kGeluTanh, kGeluErf, kRelu, kSilu };

// Rotary embeddings (Builder::rope). inv_freq [rotary_dim / 2] is a weight computed by the family from its
// rope_type (HF modeling_rope_utils); rope_type "dynamic" recomputes it per step from the positions.
struct RopeAttrs {
  int head_dim = 0;
  int rotary_dim = 0;              // <= head_dim; dims past it pass through
  float attention_factor = 1.0f;   // cos and sin are multiplied by it (yarn)
  float dynamic_base = 0;          // > 0: dynamic NTK with this rope_theta ...
  float dynamic_factor = 0;        // ... scaling factor ...
  int original_max = 0;            // ... once positions reach past max_position_embeddings
};

// Attention over separate q, k, v (Builder::attention_qkv).
struct AttentionAttrs {
  int n_head = 0;     // H query heads
  int n_kv_head = 0;  // KV heads; H % KV == 0 (GQA), 1 = MQA
  float scale = 1.0f;
  int window = 0;     // > 0: sliding window (a query at slot s sees slots (s - window, s])
};

class Builder {
 public:
  virtual ~Builder() = default;

  // Step inputs and persistent state, bound by name by whoever runs the step (see StepBindings).
  virtual Value input(const std::string& name) = 0;
  // A weight: lives as long as the model; never copied.
  virtual Value weight(const Tensor& t, const std::string& name) = 0;

  virtual Shape shape(Value v) const = 0;

  // [V, C] table, [B, T] i32 ids -> [B, T, C]
  virtual Value embedding(Value table, Value ids) = 0;
  // Elementwise, same shapes.
  virtual Value add(Value a, Value b) = 0;
  // Over the last dim: (x - mean) / sqrt(var + eps) * gamma + beta (biased variance, as torch).
  virtual Value layer_norm(Value x, Value gamma, Value beta, float eps) = 0;
  // x [..., K] @ w [K, N] (+ bias [N]) -> [..., N]. HF Conv1D layout.
  virtual Value linear(Value x, Value w, Value bias) = 0;
  // x [..., C] @ w[N, C]^T -> [..., N]. The tied lm_head against wte.
  virtual Value linear_transposed(Value x, Value w) = 0;
  virtual Value activation(Value x, Activation kind) = 0;
  // Causal self-attention over a KV cache. qkv [B, T, 3C] packed as HF c_attn (q | k | v).
  // Writes k, v of row b's T new tokens into k_cache/v_cache [B, H, S, D] at slots
  // [cache_pos[b], cache_pos[b] + T), then each new token at slot s attends to slots [0, s] whose
  // key_mask [B, S] entry is 1. cache_pos is an i32 [B] input: one write slot per row, so rows of a
  // continuous batch can be at different lengths. Returns [B, T, C].
  virtual Value attention(Value qkv, Value k_cache, Value v_cache, Value cache_pos, Value key_mask,
                          int n_head, float scale) = 0;
  // Over the last dim: x * rsqrt(mean(x^2) + eps) * gamma (HF LlamaRMSNorm).
  virtual Value rms_norm(Value x, Value gamma, float eps) = 0;
  // Elementwise product, same shapes (the gated MLP).
  virtual Value mul(Value a, Value b) = 0;
  // x [B, T, heads * head_dim], positions [B, T] i32, inv_freq [rotary_dim / 2] -> x rotated per head.
  virtual Value rope(Value x, Value positions, Value inv_freq, const RopeAttrs& attrs) = 0;
  // Causal attention over a KV cache from separate projections: q [B, T, H*D], k, v [B, T, KV*D]; k_cache, v_cache
  // [B, KV, S, D] written at [cache_pos[b], cache_pos[b] + T) as attention() does; query head h reads KV head
  // h / (H / KV). Returns [B, T, H*D].
  virtual Value attention_qkv(Value q, Value k, Value v, Value k_cache, Value v_cache, Value cache_pos, Value key_mask,
                              const AttentionAttrs& attrs) = 0;
  // [B, T, C] -> [B, 1, C]: the last position of each row (prefill only needs its logits).
  virtual Value last_position(Value x) = 0;
  // logits [B, 1, V] -> the chosen tokens [B] i32, by the TokenSelect bound as `select_state` (an input).
  virtual Value select_tokens(Value logits, Value select_state) = 0;
  // Beam bookkeeping: after `tokens` were chosen, row r of every state ([B, ...]: KV caches, key mask) becomes old
  // row select_state.source_rows()[r]. Only the filled slots move: [0, max(cache_pos) + step_tokens). A side effect
  // (like attention's cache write); returns its scratch buffer, which nobody reads.
  virtual Value reorder_rows(Value tokens, Value select_state, Value cache_pos, int step_tokens,
                             const std::vector<Value>& states) = 0;
};

}  // namespace jitgen
