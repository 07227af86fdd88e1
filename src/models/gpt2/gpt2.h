#pragma once
// GPT-2: the weights, their loading from an HF folder, and the one model definition (build_gpt2),
// written against the Builder so that eager and compiled execution share it.
#include <string>
#include <vector>

#include "core/tensor.h"
#include "graph/builder.h"
#include "models/gpt2/config.h"
#include "models/weight_layout.h"
#include "ops/prepared_weights.h"

namespace jitgen {

struct Gpt2Layer {
  Tensor ln_1_weight, ln_1_bias;          // [C]
  Tensor c_attn_weight, c_attn_bias;      // [C, 3C], [3C]   (Conv1D: [in, out])
  Tensor attn_c_proj_weight, attn_c_proj_bias;  // [C, C], [C]
  Tensor ln_2_weight, ln_2_bias;          // [C]
  Tensor c_fc_weight, c_fc_bias;          // [C, 4C], [4C]
  Tensor mlp_c_proj_weight, mlp_c_proj_bias;  // [4C, C], [C]
};

struct Gpt2Weights {
  Tensor wte;  // [V, C]; also the lm_head when tied
  Tensor wpe;  // [P, C]
  std::vector<Gpt2Layer> h;
  Tensor ln_f_weight, ln_f_bias;  // [C]
  Tensor lm_head;  // [V, C]; the same storage as wte when tied
  // Every linear weight and the lm_head re-laid as panels for the decode kernels (ops/prepared_weights.h);
  // shared by copies. Null until prepare_gpt2_weights: kernels then use the tensors above as they are.
  std::shared_ptr<cpu::PreparedWeights> prepared;  // non-const: release_source (load only)
};

// The weights prepare_gpt2_weights packs, in the order a step reads them (`tied`: the lm_head as wte's slot).
std::vector<PackedWeight> packed_gpt2_weights(Gpt2Weights& w, bool tied);
// Packs the weights once for the CPU kernels (fp32 panels, or bf16 with WeightStorage::kBF16); weights noted in
// `reads` are read as they are packed. `tied`: the lm_head is wte (set here once packed).
void prepare_gpt2_weights(Gpt2Weights& w, bool tied, cpu::WeightStorage storage, WeightReads* reads = nullptr);

// Visits every weight with its HF name (without the "transformer." prefix) and expected shape: one
// list serves loading, saving, random init and checks.
template <typename Weights, typename Fn>
void for_each_gpt2_tensor(const io::Gpt2Config& c, Weights& w, Fn&& fn) {
  const int64_t C = c.n_embd, V = c.vocab_size, P = c.n_positions, I = c.inner_dim();
  fn("wte.weight", w.wte, Shape{V, C});
  fn("wpe.weight", w.wpe, Shape{P, C});
  for (int i = 0; i < c.n_layer; ++i) {
    auto& l = w.h[i];
    const std::string p = "h." + std::to_string(i) + ".";
    fn(p + "ln_1.weight", l.ln_1_weight, Shape{C});
    fn(p + "ln_1.bias", l.ln_1_bias, Shape{C});
    fn(p + "attn.c_attn.weight", l.c_attn_weight, Shape{C, 3 * C});
    fn(p + "attn.c_attn.bias", l.c_attn_bias, Shape{3 * C});
    fn(p + "attn.c_proj.weight", l.attn_c_proj_weight, Shape{C, C});
    fn(p + "attn.c_proj.bias", l.attn_c_proj_bias, Shape{C});
    fn(p + "ln_2.weight", l.ln_2_weight, Shape{C});
    fn(p + "ln_2.bias", l.ln_2_bias, Shape{C});
    fn(p + "mlp.c_fc.weight", l.c_fc_weight, Shape{C, I});
    fn(p + "mlp.c_fc.bias", l.c_fc_bias, Shape{I});
    fn(p + "mlp.c_proj.weight", l.mlp_c_proj_weight, Shape{I, C});
    fn(p + "mlp.c_proj.bias", l.mlp_c_proj_bias, Shape{C});
  }
  fn("ln_f.weight", w.ln_f_weight, Shape{C});
  fn("ln_f.bias", w.ln_f_bias, Shape{C});
}

// Loads config.json + safetensors from an HF folder; converts F16/BF16 to F32. Errors name the file
// and the tensor (missing, wrong shape, wrong dtype).
Gpt2Weights load_gpt2_weights(const std::string& dir, const io::Gpt2Config& config);

// Step inputs the model reads (bound by name by the runner):
//   "input_ids" [B, T] i32, "position_ids" [B, T] i32, "cache_pos" [B] i32, "key_mask" [B, S] i32,
//   states "k_cache.<l>", "v_cache.<l>" [B, H, S, D] f32.
// Returns logits [B, T, V], or [B, 1, V] for the last position only.
Value build_gpt2(Builder& b, const io::Gpt2Config& config, const Gpt2Weights& w, bool last_position_only);

}  // namespace jitgen
