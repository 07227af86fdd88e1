// Scalar oracles for the Llama-family ops (ops/reference.h): written for clarity, sums in double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/reference.h"

namespace jitgen::ref {

void rms_norm(const float* x, const float* gamma, float eps, int64_t R, int64_t C, float* out) {
  for (int64_t r = 0; r < R; ++r) {
    double ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += static_cast<double>(x[r * C + c]) * x[r * C + c];
    const double inv = 1.0 / std::sqrt(ss / C + eps);
    for (int64_t c = 0; c < C; ++c) out[r * C + c] = static_cast<float>(gamma[c] * (x[r * C + c] * inv));
  }
}

void mul(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

void rope(const float* x, const int32_t* positions, const float* inv_freq, const cpu::RopeShape& s,
          float attention_factor, const cpu::RopeDynamic& dynamic, float* out) {
  const int64_t half = s.rotary / 2;
  std::vector<float> freq(inv_freq, inv_freq + half);
  if (dynamic.base > 0) {
    const int32_t max_pos = *std::max_element(positions, positions + s.rows);
    if (max_pos + 1 > dynamic.original_max) cpu::dynamic_inv_freq(dynamic, s.rotary, max_pos + 1, freq.data());
  }
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t h = 0; h < s.heads; ++h) {
      const float* xh = x + (r * s.heads + h) * s.D;
      float* yh = out + (r * s.heads + h) * s.D;
      for (int64_t d = 0; d < s.D; ++d) {
        if (d >= s.rotary) {
          yh[d] = xh[d];
          continue;
        }
        const int64_t i = d % half;
        const double angle = static_cast<double>(static_cast<float>(positions[r]) * freq[i]);
        const double c = std::cos(angle) * attention_factor, sn = std::sin(angle) * attention_factor;
        const double rotated = d < half ? -xh[d + half] : xh[d - half];  // rotate_half(x)[d]
        yh[d] = static_cast<float>(xh[d] * c + rotated * sn);
      }
    }
}

}  // namespace jitgen::ref
