#pragma once
// The Llama family's config.json: LlamaConfig, MistralConfig and Qwen2Config of HF transformers (field names,
// aliases and defaults as there), one struct with the three as spec flags: Mistral adds a sliding window on every
// layer, Qwen2 adds q/k/v biases and an optional window on layers >= max_window_layers.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace jitgen::llama {

// RoPE parameters (HF modeling_rope_utils). Read from "rope_parameters" (transformers 5) or from the legacy
// "rope_theta" + "rope_scaling" pair that hub checkpoints carry.
struct RopeConfig {
  std::string type = "default";  // default | linear | dynamic | llama3 | yarn
  double theta = 10000.0;
  double partial_rotary_factor = 1.0;
  double factor = 1.0;  // linear, dynamic, llama3, yarn
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  int original_max_position_embeddings = 0;              // llama3, yarn (default: max_position_embeddings)
  double attention_factor = 0;  // yarn: 0 = from factor / mscale / mscale_all_dim as HF infers it
  double beta_fast = 32, beta_slow = 1, mscale = 0, mscale_all_dim = 0;  // yarn
  bool truncate = true;                                                // yarn
  nlohmann::json source = nullptr;  // the rope dict as found (written back by to_json)
};

struct LlamaConfig {
  std::string model_type = "llama";  // llama | mistral | qwen2
  int vocab_size = 32000;
  int hidden_size = 4096;
  int intermediate_size = 11008;
  int num_hidden_layers = 32;
  int num_attention_heads = 32;
  int num_key_value_heads = 0;  // 0 (null): num_attention_heads
  int head_dim = 0;             // 0 (null): hidden_size / num_attention_heads
  std::string hidden_act = "silu";
  int max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // llama: q, k, v and o; qwen2: always q, k, v (never o)
  bool mlp_bias = false;        // llama only
  RopeConfig rope;
  int sliding_window = 0;  // mistral; qwen2 when use_sliding_window (0 = none)
  bool use_sliding_window = false;
  int max_window_layers = 28;              // qwen2
  std::vector<std::string> layer_types;    // "full_attention" | "sliding_attention" per layer (resolved)
  int bos_token_id = 1, eos_token_id = 2;  // -1 = none
  std::vector<int> eos_token_ids = {2};

  int kv_heads() const { return num_key_value_heads > 0 ? num_key_value_heads : num_attention_heads; }
  int dim() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }
  bool qkv_bias() const { return model_type == "qwen2" || attention_bias; }
  bool o_bias() const { return model_type == "llama" && attention_bias; }
  int layer_window(int layer) const {
    return layer_types.at(layer) == "sliding_attention" ? sliding_window : 0;
  }
  nlohmann::json to_json() const;  // HF-compatible config.json content (legacy rope_theta / rope_scaling form)
};

// Defaults of the HF config class for model_type (llama, mistral or qwen2).
LlamaConfig defaults_for(const std::string& model_type);
// Parses config.json content; `path` is used in messages. Checks: positive sizes, heads dividing hidden_size when
// head_dim is not given, num_key_value_heads dividing num_attention_heads, a supported rope type with its fields,
// a supported hidden_act.
LlamaConfig parse_llama_config(const nlohmann::json& j, const std::string& path);

}  // namespace jitgen::llama
