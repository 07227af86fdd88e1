// Rotary position embeddings in HF's rotate_half convention (transformers/models/llama/modeling_llama.py
// apply_rotary_pos_emb): out = x * cos + rotate_half(x) * sin, with cos/sin of position * inv_freq, each
// frequency used for the pair of dims (i, i + rotary/2). Plain loops; ops/reference_llama.cc is the oracle.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/cpu_kernels.h"
#include "runtime/thread_pool.h"

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
  const int64_t half = s.rotary / 2, width = s.heads * s.D;
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
  runtime::parallel_for(s.rows, 4, [&](int64_t r0, int64_t r1) {
    thread_local std::vector<float> cs;
    cs.resize(2 * half);
    for (int64_t r = r0; r < r1; ++r) {
      const float pos = static_cast<float>(positions[r]);
      for (int64_t i = 0; i < half; ++i) {
        const float angle = inv_freq[i] * pos;  // HF: inv_freq @ position_ids in fp32
        cs[i] = std::cos(angle) * attention_factor;
        cs[half + i] = std::sin(angle) * attention_factor;
      }
      const float* xr = x + r * width;
      float* yr = out + r * width;
      for (int64_t h = 0; h < s.heads; ++h) {
        const float* xh = xr + h * s.D;
        float* yh = yr + h * s.D;
        for (int64_t i = 0; i < half; ++i) {
          const float a = xh[i], b = xh[half + i], c = cs[i], sn = cs[half + i];
          yh[i] = a * c - b * sn;         // x1 * cos + (-x2) * sin
          yh[half + i] = b * c + a * sn;  // x2 * cos + x1 * sin
        }
        for (int64_t i = s.rotary; i < s.D; ++i) yh[i] = xh[i];  // partial rotary: the rest passes through
      }
    }
  });
}

}  // namespace jitgen::cpu
