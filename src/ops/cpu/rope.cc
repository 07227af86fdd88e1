// Rotary position embeddings in HF's rotate_half convention (transformers/models/llama/modeling_llama.py
// apply_rotary_pos_emb): out = x * cos + rotate_half(x) * sin, with cos/sin of position * inv_freq, each
// frequency used for the pair of dims (i, i + rotary/2). The rotation is a Highway kernel (cpu/simd_elementwise.cc);
// ops/reference_llama.cc is the oracle.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/cpu/simd.h"
#include "ops/cpu_kernels.h"

namespace jitgen::cpu {

void dynamic_inv_freq(const RopeDynamic& d, int64_t rotary, int64_t seq_len, float* inv_freq) {
  // transformers modeling_rope_utils._compute_dynamic_ntk_parameters with seq_len a tensor: fp32 arithmetic.
  const float seq = static_cast<float>(std::max(seq_len, d.original_max));
  const float dim = static_cast<float>(rotary);
  const float grown = d.factor * seq / static_cast<float>(d.original_max) - (d.factor - 1.0f);
  const float base = d.base * std::pow(grown, static_cast<float>(static_cast<double>(rotary) / (rotary - 2)));
  for (int64_t i = 0; i < rotary / 2; ++i)
    inv_freq[i] = 1.0f / std::pow(base, static_cast<float>(2 * i) / dim);
}

void rope(const float* x, const int32_t* positions, const float* inv_freq, const RopeShape& s, float attention_factor,
          const RopeDynamic& dynamic, float* out) {
  const int64_t half = s.rotary / 2;
  // Dynamic NTK: HF recomputes inv_freq when max(position_ids) + 1 grows past the original length; every row of
  // the step uses the same frequencies.
  thread_local std::vector<float> grown;
  if (dynamic.base > 0) {
    int32_t max_pos = 0;
    for (int64_t r = 0; r < s.rows; ++r) max_pos = std::max(max_pos, positions[r]);
    if (max_pos + 1 > dynamic.original_max) {
      grown.resize(half);
      dynamic_inv_freq(dynamic, s.rotary, max_pos + 1, grown.data());
      inv_freq = grown.data();
    }
  }
  simd::rope(x, positions, inv_freq, s.rows, s.heads, s.D, s.rotary, attention_factor, out);  // cpu/simd_elementwise.cc
}

}  // namespace jitgen::cpu
