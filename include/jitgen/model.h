#pragma once
// A loaded causal LM of any registered family (models/registry.h): hyper-parameters, weights and the folder's generation defaults.
// Cheap to copy (shared, immutable); safe to use from several threads.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "jitgen/runtime.h"

namespace jitgen {

struct ModelInfo {
  std::string model_type;
  int n_layer = 0, n_head = 0, n_embd = 0, n_positions = 0, vocab_size = 0;
  int n_kv_head = 0;  // key/value heads (n_head for plain multi-head attention, fewer with GQA / MQA)
  int head_dim = 0;   // per-head width (n_embd / n_head unless the config sets head_dim)
  int bos_token_id = -1, eos_token_id = -1;
};

class Model {
 public:
  // An HF folder: config.json, model.safetensors (or sharded), optional generation_config.json.
  // check_weights: scan every weight for NaN/Inf at load (a one-line error names the tensor).
  static Model from_dir(const std::string& dir, bool check_weights = false);
  // The built-in default: a small random GPT-2 (seed 0) with the real GPT-2 vocabulary, built in memory.
  static Model builtin_default();
  // Random weights (deterministic in seed) at a named shape of any family (tiny, gpt2, gpt2-medium, ...;
  // "family:preset" picks the family explicitly).
  // Benchmarks use it: speed does not depend on the values.
  static Model random_preset(const std::string& preset, uint64_t seed = 0);

  const ModelInfo& info() const;
  const std::string& source() const;  // the folder, or "<built-in random gpt2>"

  // Logits for every position of a batch: [B][T * V] row-major (pads included; their values are
  // unspecified). attention_mask empty = all ones. The oracle tests compare these with HF.
  std::vector<std::vector<float>> forward_logits(const std::vector<std::vector<int32_t>>& input_ids,
                                                 const std::vector<std::vector<int32_t>>& attention_mask = {},
                                                 ExecutionMode mode = ExecutionMode::kEager) const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace jitgen
