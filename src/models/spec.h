#pragma once
// ModelSpec: all that the engine outside src/models/<family>/ may know about a model (runners, KV cache,
// CUDA state, slot batch, server, bindings, benchmarks read it; none of them names a family).
#include <string>
#include <vector>

namespace jitgen {

// How a model encodes positions: a learned table (GPT-2, OPT), rotary embeddings (Llama family), or a
// relative bias (T5, later). Positions are bounded by max_positions in every case.
enum class PositionKind { kLearned, kRotary, kRelative };

struct ModelSpec {
  std::string model_type;  // config.json "model_type" (the registry key)
  int n_layer = 0;
  int n_head = 0;           // query heads
  int n_kv_head = 0;        // key/value heads: n_head (MHA), a divisor of it (GQA) or 1 (MQA)
  int head_dim = 0;         // D; may differ from hidden_size / n_head (Llama's explicit head_dim)
  int hidden_size = 0;      // C
  int intermediate_size = 0;  // the MLP's inner width (benchmarks' byte counts)
  int vocab_size = 0;       // V
  int max_positions = 0;    // positions are in [0, max_positions)
  PositionKind positions = PositionKind::kLearned;
  // Per layer: the sliding-window length (keys older than `window` positions are masked), 0 = full attention.
  std::vector<int> window;
  int bos_token_id = -1, eos_token_id = -1;  // -1 = none
  std::vector<int> eos_token_ids;

  // The KV cache of one layer holds [B, n_kv_head, S, head_dim] floats for K and again for V.
  int kv_width() const { return n_kv_head * head_dim; }
  int layer_window(int layer) const { return window.empty() ? 0 : window[layer]; }
};

}  // namespace jitgen
