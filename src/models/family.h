#pragma once
// The family interface. A family (src/models/<family>/) parses its config.json (HF field names and defaults),
// names its tensors as HF saves them, loads and prepares its weights, and builds its step against the Builder.
// The registry (models/registry.h) maps config.json's model_type to a Family; everything else sees a
// FamilyModel through its ModelSpec and build().
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "graph/builder.h"
#include "models/spec.h"
#include "ops/prepared_weights.h"

namespace jitgen {

// One loaded model of some family: immutable after load, shared by every runner.
class FamilyModel {
 public:
  virtual ~FamilyModel() = default;
  virtual const ModelSpec& spec() const = 0;
  // The forward pass over the step's new tokens. Inputs it reads (bound by name by the runner):
  //   "input_ids" [B, T] i32, "position_ids" [B, T] i32, "cache_pos" [B] i32 (KV write slot of each row),
  //   "key_mask" [B, S] i32, states "k_cache.<l>", "v_cache.<l>" [B, n_kv_head, S, head_dim] f32.
  // Returns logits [B, T, V], or [B, 1, V] for the last position only.
  virtual Value build(Builder& b, bool last_position_only) const = 0;
  // Every weight under its HF name (plan store binding, fingerprints).
  virtual std::map<std::string, Tensor> weights_by_name() const = 0;
  // The hyper-parameters as config.json content (part of the model fingerprint).
  virtual nlohmann::json config_json() const = 0;
  // The linear weights as prepared for the kernels (their format names compile keys); null when unprepared.
  virtual const cpu::PreparedWeights* prepared() const = 0;
};

// The part of a FamilyModel's spec every family fills alike: model_type, layers, query heads and head_dim as given,
// as many KV heads as query heads, full attention at every layer (a GQA or sliding-window family overrides
// n_kv_head / window), and the special token ids, which every family's config holds under HF's names
// (bos_token_id, eos_token_id, eos_token_ids). The family sets the rest (widths, vocab, positions).
template <typename Config>
ModelSpec common_spec(const std::string& model_type, const Config& c, int n_layer, int n_head, int head_dim) {
  ModelSpec s;
  s.model_type = model_type;
  s.n_layer = n_layer;
  s.n_head = s.n_kv_head = n_head;
  s.head_dim = head_dim;
  s.window.assign(n_layer, 0);
  s.bos_token_id = c.bos_token_id;
  s.eos_token_id = c.eos_token_id;
  s.eos_token_ids = c.eos_token_ids;
  return s;
}

// One generation step: build() on the new tokens, then the token choice on the last position's logits
// (Builder::select_tokens with the "select_state" input) and, for beam search, the KV-cache rows following their
// beams (reorder_rows). Returns the chosen tokens [B] i32: compiled, the whole step is one program.
Value build_generation_step(Builder& b, const FamilyModel& model, bool beam_reorder);

// How a random-weight folder is written (make-model, the Python helper, tests).
struct RandomModelOptions {
  uint64_t seed = 0;
  DType dtype = DType::kF32;  // stored dtype: F32, F16 or BF16
  int shards = 1;             // > 1 writes model-0000i-of-0000n.safetensors + index.json
  std::string tokenizer_dir;  // tokenizer files copied into the folder when set (a GPT-2 byte-level BPE)
  // Shape overrides applied to the preset (0 = keep): layers, heads, KV heads, hidden size, positions, vocab.
  int layers = 0, heads = 0, kv_heads = 0, hidden = 0, positions = 0, vocab = 0;
  // config.json fields (HF names) merged over the preset last, e.g. {"rope_scaling": {...}, "head_dim": 32}.
  nlohmann::json config = nullptr;
};

struct Family {
  std::string model_type;            // config.json "model_type"
  std::vector<std::string> presets;  // shape presets for random models, the first is the small test shape
  // Loads an HF folder whose config.json (already read, at config_path) names this family.
  std::function<std::shared_ptr<const FamilyModel>(const std::string& dir, const nlohmann::json& config,
                                                   const std::string& config_path)>
      load;
  // Random weights in memory (deterministic in seed) at a preset shape (benchmarks, the built-in default).
  std::function<std::shared_ptr<const FamilyModel>(const std::string& preset, uint64_t seed)> random;
  // Writes a random-weight HF folder (config.json, generation_config.json, safetensors) that HF loads.
  // Returns a one-line description for the CLI.
  std::function<std::string(const std::string& preset, const RandomModelOptions& opt, const std::string& dir)>
      write_random;
};

}  // namespace jitgen
