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
  // The built-in default: models/kjv-llama-5m, a 4.95M-parameter Llama trained on the King James Bible by
  // scripts/train_demo_model.py (its README has provenance, licence and perplexity), loaded from
  // builtin_default_dir() after every file is checked against the folder's SHA256SUMS.
  static Model builtin_default();
  // The same from a given copy of that folder (the Python package passes its packaged one): SHA256SUMS checked
  // first; a mismatch throws kInvalidFile naming the file ("DIR/model.safetensors: sha256 is ..., expected ...").
  static Model builtin_default(const std::string& dir);
  // Where the built-in default lives: <dir of the executable>/../share/jitgen/kjv-llama-5m when that exists (an
  // installed `jitgen`, see apps/jitgen/CMakeLists.txt), else the source tree's models/kjv-llama-5m, whose path is
  // baked in at build time. Verifies SHA256SUMS (each call); throws kInvalidFile when a file
  // does not match or neither place has the folder.
  static std::string builtin_default_dir();
  // A small random GPT-2 ("tiny" preset, seed 0) with the real GPT-2 vocabulary, built in memory: the CLI's
  // `--model builtin:random-gpt2`, and the tests' and benchmarks' model of GPT-2 shape.
  static Model builtin_random_gpt2();
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
