// Elementwise Highway kernels (cpu/simd.h): the residual add, the gated MLP's product and rotary embeddings. Compiled
// once per SIMD target like cpu/simd.cc (foreach_target.h re-includes this file); one dynamic dispatch per call.
// Each output element is computed by the same IEEE operations as the scalar references (ops/reference.h: a + b,
// a * b, rope's a * cos - b * sin), so results match them whatever the vector width.
#include <cmath>
#include <vector>

#include "ops/cpu/simd.h"
#include "runtime/thread_pool.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/simd_elementwise.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/cpu/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace jitgen::cpu::simd::HWY_NAMESPACE {

template <bool kMul>
void BinaryRange(const float* a, const float* b, float* out, int64_t n) {
  const DF d;
  int64_t i = 0;
  for (; i + static_cast<int64_t>(kLanes) <= n; i += kLanes) {
    const VF x = hn::LoadU(d, a + i), y = hn::LoadU(d, b + i);
    hn::StoreU(kMul ? hn::Mul(x, y) : hn::Add(x, y), d, out + i);
  }
  for (; i < n; ++i) out[i] = kMul ? a[i] * b[i] : a[i] + b[i];
}

void Add(const float* a, const float* b, float* out, int64_t n) {
  runtime::parallel_for(n, 1 << 16, [&](int64_t lo, int64_t hi) { BinaryRange<false>(a + lo, b + lo, out + lo, hi - lo); });
}

void Mul(const float* a, const float* b, float* out, int64_t n) {
  runtime::parallel_for(n, 1 << 14, [&](int64_t lo, int64_t hi) { BinaryRange<true>(a + lo, b + lo, out + lo, hi - lo); });
}

// HF rotate_half over the rows [r0, r1): dims i and i + half of each head rotate by the row's angle position *
// inv_freq[i]; cos and sin are scalar std::cos / std::sin, once per row and frequency (shared by the heads).
void RopeRange(const float* x, const int32_t* positions, const float* inv_freq, int64_t heads, int64_t D,
               int64_t rotary, float attention_factor, float* out, int64_t r0, int64_t r1) {
  const DF d;
  const int64_t half = rotary / 2, width = heads * D, N = static_cast<int64_t>(kLanes);
  thread_local std::vector<float> cs;  // [cos | sin], grown once per thread
  if (static_cast<int64_t>(cs.size()) < 2 * half) cs.resize(2 * half);
  const float* cosv = cs.data();
  const float* sinv = cs.data() + half;
  for (int64_t r = r0; r < r1; ++r) {
    const float pos = static_cast<float>(positions[r]);
    for (int64_t i = 0; i < half; ++i) {
      const float angle = inv_freq[i] * pos;  // HF: inv_freq @ position_ids in fp32
      cs[i] = std::cos(angle) * attention_factor;
      cs[half + i] = std::sin(angle) * attention_factor;
    }
    for (int64_t h = 0; h < heads; ++h) {
      const float* xh = x + r * width + h * D;
      float* yh = out + r * width + h * D;
      int64_t i = 0;
      for (; i + N <= half; i += N) {
        const VF a = hn::LoadU(d, xh + i), b = hn::LoadU(d, xh + half + i);
        const VF c = hn::LoadU(d, cosv + i), s = hn::LoadU(d, sinv + i);
        hn::StoreU(hn::Sub(hn::Mul(a, c), hn::Mul(b, s)), d, yh + i);         // x1 * cos + (-x2) * sin
        hn::StoreU(hn::Add(hn::Mul(b, c), hn::Mul(a, s)), d, yh + half + i);  // x2 * cos + x1 * sin
      }
      for (; i < half; ++i) {
        const float a = xh[i], b = xh[half + i];
        yh[i] = a * cosv[i] - b * sinv[i];
        yh[half + i] = b * cosv[i] + a * sinv[i];
      }
      for (i = rotary; i < D; ++i) yh[i] = xh[i];  // partial rotary: the rest passes through
    }
  }
}

void Rope(const float* x, const int32_t* positions, const float* inv_freq, int64_t rows, int64_t heads, int64_t D,
          int64_t rotary, float attention_factor, float* out) {
  runtime::parallel_for(rows, 4, [&](int64_t r0, int64_t r1) {
    RopeRange(x, positions, inv_freq, heads, D, rotary, attention_factor, out, r0, r1);
  });
}

}  // namespace jitgen::cpu::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace jitgen::cpu::simd {

HWY_EXPORT(Add);
HWY_EXPORT(Mul);
HWY_EXPORT(Rope);

void add(const float* a, const float* b, float* out, int64_t n) { HWY_DYNAMIC_DISPATCH(Add)(a, b, out, n); }

void mul(const float* a, const float* b, float* out, int64_t n) { HWY_DYNAMIC_DISPATCH(Mul)(a, b, out, n); }

void rope(const float* x, const int32_t* positions, const float* inv_freq, int64_t rows, int64_t heads, int64_t D,
          int64_t rotary, float attention_factor, float* out) {
  HWY_DYNAMIC_DISPATCH(Rope)(x, positions, inv_freq, rows, heads, D, rotary, attention_factor, out);
}

}  // namespace jitgen::cpu::simd
#endif  // HWY_ONCE
