#pragma once
// OPT's config.json: HF transformers' OPTConfig (models/opt/configuration_opt.py), field names and defaults as
// there. OPT-350m is the odd one: post-LN (do_layer_norm_before false, so no final layer norm) and a narrower
// word embedding (word_embed_proj_dim 512 < hidden_size 1024) with project_in / project_out around the decoder.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace jitgen::opt {

struct OptConfig {
  int vocab_size = 50272;
  int hidden_size = 768;
  int num_hidden_layers = 12;
  int ffn_dim = 3072;
  int max_position_embeddings = 2048;  // the position table holds 2 more rows (HF's offset 2)
  bool do_layer_norm_before = true;
  bool remove_final_layer_norm = false;  // "_remove_final_layer_norm"
  int word_embed_proj_dim = 0;           // 0 (null): hidden_size
  int num_attention_heads = 12;
  std::string activation_function = "relu";
  bool enable_bias = true;                    // q/k/v/out_proj and fc1/fc2 biases
  bool layer_norm_elementwise_affine = true;  // false: layer norms without weight and bias
  bool tie_word_embeddings = true;
  int pad_token_id = 1, bos_token_id = 2, eos_token_id = 2;  // -1 = none
  std::vector<int> eos_token_ids = {2};

  int embed_dim() const { return word_embed_proj_dim > 0 ? word_embed_proj_dim : hidden_size; }
  bool projects() const { return embed_dim() != hidden_size; }  // project_in / project_out exist
  bool final_layer_norm() const { return do_layer_norm_before && !remove_final_layer_norm; }
  int head_dim() const { return hidden_size / num_attention_heads; }
  nlohmann::json to_json() const;  // HF-compatible config.json content
};

// Parses config.json content; `path` is used in messages. Checks positive sizes (at most 2^24), hidden_size
// divisible by num_attention_heads (HF OPTAttention raises otherwise), a supported activation_function.
OptConfig parse_opt_config(const nlohmann::json& j, const std::string& path);

}  // namespace jitgen::opt
