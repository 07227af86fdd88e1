#pragma once
// GPT-2's config.json (HF GPT2Config): field names, aliases and defaults as transformers has them.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace jitgen::io {

// GPT-2 hyper-parameters as named in HF's GPT2Config (defaults = HF defaults).
struct Gpt2Config {
  std::string model_type = "gpt2";
  int n_layer = 12;
  int n_head = 12;
  int n_embd = 768;
  int n_positions = 1024;
  int n_inner = 0;  // 0 = 4 * n_embd (HF: null)
  int vocab_size = 50257;
  float layer_norm_epsilon = 1e-5f;
  // One of gelu_new, gelu_pytorch_tanh, gelu_fast (tanh approximation), gelu (erf), relu, silu.
  // HF aliases are normalised on parse: "swish" -> "silu", "gelu_python" -> "gelu".
  std::string activation_function = "gelu_new";
  bool scale_attn_weights = true;
  bool scale_attn_by_inverse_layer_idx = false;
  bool tie_word_embeddings = true;
  bool reorder_and_upcast_attn = false;  // only changes numerics in half precision (upcast to f32)
  // -1 when config.json has null. A list (several eos ids) keeps its first element here and all of
  // them in eos_token_ids.
  int bos_token_id = 50256;
  int eos_token_id = 50256;
  std::vector<int> eos_token_ids = {50256};

  int head_dim() const { return n_embd / n_head; }
  int inner_dim() const { return n_inner > 0 ? n_inner : 4 * n_embd; }
  nlohmann::json to_json() const;  // HF-compatible config.json content
};

// Parses config.json content; `path` is used in messages. Validates model_type == "gpt2",
// positive sizes, n_embd % n_head == 0, a supported activation_function.
Gpt2Config parse_gpt2_config(const nlohmann::json& j, const std::string& path);
Gpt2Config load_gpt2_config(const std::string& path);

}  // namespace jitgen::io
