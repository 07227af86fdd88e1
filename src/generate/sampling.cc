#include "generate/sampling.h"

#include <cmath>
#include <limits>
#include <vector>

#include "ops/cpu_kernels.h"

namespace jitgen::decoding {

std::array<uint32_t, 4> philox4x32_10(PhiloxCounter ctr, PhiloxKey key) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // multipliers
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kW0;
      key[1] += kW1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kM0) * ctr[0];
    const uint64_t p1 = static_cast<uint64_t>(kM1) * ctr[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    ctr = {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
  }
  return ctr;
}

float philox_uniform(const uint32_t seed[2], uint32_t step, uint32_t row, uint32_t draw) {
  const auto out = philox4x32_10({step, row, draw, 0u}, {seed[0], seed[1]});
  return static_cast<float>(out[0] >> 8) * 0x1.0p-24f;
}

int32_t argmax_row(const float* logits, int V) {
  return static_cast<int32_t>(cpu::row_argmax(logits, V));  // Highway (ops/cpu/simd_vocab.cc)
}

int32_t sample_row(const float* logits, int V, float u) {
  const float m = cpu::row_max(logits, V);
  if (m == -std::numeric_limits<float>::infinity()) return 0;
  // The weights once, by the vector exp, kept for the walk below (a per-thread buffer, grown once).
  thread_local std::vector<float> weights;
  if (static_cast<int>(weights.size()) < V) weights.resize(V);
  float* w = weights.data();
  const double total = cpu::exp_shifted(logits, V, m, w);
  const double threshold = static_cast<double>(u) * total;
  double acc = 0.0;
  int32_t last_positive = 0;
  for (int i = 0; i < V; ++i) {
    if (w[i] <= 0.0f) continue;
    acc += static_cast<double>(w[i]);
    last_positive = i;
    if (acc > threshold) return i;
  }
  return last_positive;
}

void sample_without_replacement(const float* scores, int n, int k, const uint32_t seed[2], uint32_t step,
                                uint32_t row, double* weights, int32_t* out) {
  float m = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < n; ++i) m = scores[i] > m ? scores[i] : m;
  for (int i = 0; i < n; ++i)
    weights[i] = m == -std::numeric_limits<float>::infinity() ? 0.0 : static_cast<double>(std::exp(scores[i] - m));
  for (int d = 0; d < k; ++d) {
    double total = 0.0;
    for (int i = 0; i < n; ++i) total += weights[i] > 0 ? weights[i] : 0.0;
    int32_t pick = -1;
    if (total > 0.0) {
      const double threshold = static_cast<double>(philox_uniform(seed, step, row, static_cast<uint32_t>(d))) * total;
      double acc = 0.0;
      for (int i = 0; i < n; ++i) {
        if (weights[i] <= 0.0) continue;
        acc += weights[i];
        pick = i;
        if (acc > threshold) break;
      }
    } else {  // only zero-probability candidates remain: take them in index order
      for (int i = 0; i < n; ++i)
        if (weights[i] == 0.0) {
          pick = i;
          break;
        }
    }
    out[d] = pick;
    if (pick >= 0) weights[pick] = -1.0;  // removed
  }
}

}  // namespace jitgen::decoding
