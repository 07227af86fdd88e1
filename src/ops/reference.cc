#include "ops/reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace jitgen::ref {

void embedding(const float* table, int64_t vocab, int64_t C, const int32_t* ids, int64_t R, float* out) {
  for (int64_t r = 0; r < R; ++r) {
    JITGEN_CHECK(ids[r] >= 0 && ids[r] < vocab);
    std::memcpy(out + r * C, table + static_cast<int64_t>(ids[r]) * C, C * sizeof(float));
  }
}

void embedding_sum(const float* table_a, int64_t rows_a, const int32_t* ids_a, const float* table_b, int64_t rows_b,
                   const int32_t* ids_b, int64_t C, int64_t R, float* out) {
  for (int64_t r = 0; r < R; ++r) {
    JITGEN_CHECK(ids_a[r] >= 0 && ids_a[r] < rows_a && ids_b[r] >= 0 && ids_b[r] < rows_b);
    const float* a = table_a + static_cast<int64_t>(ids_a[r]) * C;
    const float* b = table_b + static_cast<int64_t>(ids_b[r]) * C;
    float* o = out + r * C;
    for (int64_t c = 0; c < C; ++c) o[c] = a[c] + b[c];
  }
}

void add(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void layer_norm(const float* x, const float* gamma, const float* beta, float eps, int64_t R, int64_t C,
                float* out) {
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = x + r * C;
    float* yr = out + r * C;
    // Two passes in double keep the statistics exact enough to match torch to ~1e-6.
    double mean = 0;
    for (int64_t c = 0; c < C; ++c) mean += xr[c];
    mean /= static_cast<double>(C);
    double var = 0;
    for (int64_t c = 0; c < C; ++c) {
      const double d = xr[c] - mean;
      var += d * d;
    }
    var /= static_cast<double>(C);
    const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - m) * inv * gamma[c] + beta[c];
  }
}

void linear(const float* x, const float* w, const float* bias, int64_t M, int64_t K, int64_t N, float* out) {
  std::vector<double> acc(N);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) acc[n] = bias ? bias[n] : 0.0;
    for (int64_t k = 0; k < K; ++k) {
      const double xv = x[m * K + k];
      for (int64_t n = 0; n < N; ++n) acc[n] += xv * w[k * N + n];
    }
    for (int64_t n = 0; n < N; ++n) out[m * N + n] = static_cast<float>(acc[n]);
  }
}

void linear_transposed(const float* x, const float* w, int64_t M, int64_t K, int64_t N, float* out) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(x[m * K + k]) * w[n * K + k];
      out[m * N + n] = static_cast<float>(acc);
    }
}

void activation(const float* x, float* out, int64_t n, Activation kind) {
  switch (kind) {
    case Activation::kGeluTanh: {
      // HF gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      const float k = 0.7978845608028654f;
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        out[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
      }
      break;
    }
    case Activation::kGeluErf:
      for (int64_t i = 0; i < n; ++i) out[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.7071067811865476f));
      break;
    case Activation::kRelu:
      for (int64_t i = 0; i < n; ++i) out[i] = std::max(x[i], 0.0f);
      break;
    case Activation::kSilu:
      for (int64_t i = 0; i < n; ++i) out[i] = x[i] / (1.0f + std::exp(-x[i]));
      break;
  }
}

void attention(const float* qkv, float* k_cache, float* v_cache, const int32_t* cache_pos, const int32_t* key_mask,
               const cpu::AttentionShape& s, float scale, float* out) {
  const int64_t C = s.H * s.D;
  ref::attention_qkv(cpu::AttentionInputs{qkv, qkv + C, qkv + 2 * C, 3 * C, 3 * C, 3 * C}, k_cache, v_cache, cache_pos, key_mask, s, scale, out);
}

void attention_qkv(const cpu::AttentionInputs& in, float* k_cache, float* v_cache, const int32_t* cache_pos,
                   const int32_t* key_mask, const cpu::AttentionShape& s, float scale, float* out) {
  const int64_t KV = s.kv(), G = s.H / KV, C = s.H * s.D;
  JITGEN_CHECK(KV >= 1 && s.H % KV == 0);
  for (int64_t b = 0; b < s.B; ++b) JITGEN_CHECK(cache_pos[b] >= 0 && cache_pos[b] + s.T <= s.S);
  // Write the new keys and values into their cache slots.
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t t = 0; t < s.T; ++t) {
      const float* k_row = in.k + (b * s.T + t) * in.k_stride;
      const float* v_row = in.v + (b * s.T + t) * in.v_stride;
      for (int64_t h = 0; h < KV; ++h) {
        const int64_t slot = ((b * KV + h) * s.S + cache_pos[b] + t) * s.D;
        std::memcpy(k_cache + slot, k_row + h * s.D, s.D * sizeof(float));
        std::memcpy(v_cache + slot, v_row + h * s.D, s.D * sizeof(float));
      }
    }
  // The portable path of cpu::attention runs this in compiled decode steps, which allocate nothing: the score
  // row is a per-thread buffer that grows to the largest cache seen.
  thread_local std::vector<float> p;
  if (static_cast<int64_t>(p.size()) < s.S) p.resize(s.S);
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t t = 0; t < s.T; ++t) {
      const float* q_row = in.q + (b * s.T + t) * in.q_stride;
      const int64_t last = cache_pos[b] + t;  // causal: slots [first, last]
      const int64_t first = s.window > 0 ? std::max<int64_t>(0, last - s.window + 1) : 0;
      for (int64_t h = 0; h < s.H; ++h) {
        const float* q = q_row + h * s.D;
        const float* kh = k_cache + (b * KV + h / G) * s.S * s.D;  // query head h reads KV head h / G
        const float* vh = v_cache + (b * KV + h / G) * s.S * s.D;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = first; j <= last; ++j) {
          if (!key_mask[b * s.S + j]) continue;
          float dot = 0;
          for (int64_t d = 0; d < s.D; ++d) dot += q[d] * kh[j * s.D + d];
          p[j] = dot * scale;
          mx = std::max(mx, p[j]);
        }
        float* o = out + (b * s.T + t) * C + h * s.D;
        std::fill(o, o + s.D, 0.0f);
        if (mx == -std::numeric_limits<float>::infinity()) continue;  // a pad query: nothing to attend
        float sum = 0;
        for (int64_t j = first; j <= last; ++j) {
          if (!key_mask[b * s.S + j]) continue;
          p[j] = std::exp(p[j] - mx);
          sum += p[j];
        }
        const float inv = 1.0f / sum;
        for (int64_t j = first; j <= last; ++j) {
          if (!key_mask[b * s.S + j]) continue;
          const float w = p[j] * inv;
          for (int64_t d = 0; d < s.D; ++d) o[d] += w * vh[j * s.D + d];
        }
      }
    }
}

}  // namespace jitgen::ref
