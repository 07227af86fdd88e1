// Highway kernels over one vocabulary row of logits (cpu/simd.h): the max, argmax and shifted exponentials that token
// choice and the logits processors (generate/sampling.cc, generate/logits_processors.cc) run on every row of every
// step. Compiled once per SIMD target like cpu/simd.cc; one dynamic dispatch per call, single-threaded (one row).
// max and argmax are exact, so they give the scalar loops' answers on every target.
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/cpu/simd.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/simd_vocab.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/cpu/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace jitgen::cpu::simd::HWY_NAMESPACE {

// The largest non-NaN entry (-inf when there is none). A lane takes x only where x > it: NaN compares false, so NaNs
// are skipped as by the scalar `m = x > m ? x : m`.
float RowMax(const float* x, int64_t n) {
  const DF d;
  const int64_t N = static_cast<int64_t>(kLanes);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  VF m0 = hn::Set(d, neg_inf), m1 = m0;
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const VF a = hn::LoadU(d, x + i), b = hn::LoadU(d, x + i + N);
    m0 = hn::IfThenElse(hn::Gt(a, m0), a, m0);
    m1 = hn::IfThenElse(hn::Gt(b, m1), b, m1);
  }
  m0 = hn::Max(m0, m1);  // neither holds a NaN
  float m = hn::GetLane(hn::MaxOfLanes(d, m0));
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// torch.argmax: the first NaN if there is one, else the first entry equal to the maximum (0 for an all -inf row).
int64_t RowArgmax(const float* x, int64_t n) {
  const DF d;
  const int64_t N = static_cast<int64_t>(kLanes);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const VF v = hn::LoadU(d, x + i);
    const intptr_t nan = hn::FindFirstTrue(d, hn::IsNaN(v));
    if (nan >= 0) return i + nan;
  }
  for (; i < n; ++i)
    if (std::isnan(x[i])) return i;
  const float m = RowMax(x, n);
  const VF mv = hn::Set(d, m);
  for (i = 0; i + N <= n; i += N) {
    const intptr_t hit = hn::FindFirstTrue(d, hn::Eq(hn::LoadU(d, x + i), mv));
    if (hit >= 0) return i + hit;
  }
  for (; i < n; ++i)
    if (x[i] == m) return i;
  return 0;
}

// exp(z) for z <= 0 with NaN kept (Highway's Exp maps NaN, like anything below -104, to 0).
HWY_INLINE VF ExpKeepNan(DF d, VF z) { return hn::IfThenElse(hn::IsNaN(z), z, hn::Exp(d, z)); }

// out[i] = exp(x[i] - m); returns their sum in fp64 as 8 partial sums (entry i into sum i % 8, in index order) added
// pairwise at the end: a fixed order, whatever the vector width. The last partial vector goes through a lane buffer
// so that every entry takes the same vector exp.
double ExpShifted(const float* x, int64_t n, float m, float* out) {
  const DF d;
  const int64_t N = static_cast<int64_t>(kLanes);
  const VF mv = hn::Set(d, m);
  int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(ExpKeepNan(d, hn::Sub(hn::LoadU(d, x + i), mv)), d, out + i);
  if (i < n) {
    HWY_ALIGN float buf[kLanes] = {};
    std::memcpy(buf, x + i, (n - i) * sizeof(float));
    hn::Store(ExpKeepNan(d, hn::Sub(hn::Load(d, buf), mv)), d, buf);
    std::memcpy(out + i, buf, (n - i) * sizeof(float));
  }
  double s[8] = {};
  i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += static_cast<double>(out[i + j]);
  for (int j = 0; i < n; ++i, ++j) s[j] += static_cast<double>(out[i]);
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

}  // namespace jitgen::cpu::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace jitgen::cpu::simd {

HWY_EXPORT(RowMax);
HWY_EXPORT(RowArgmax);
HWY_EXPORT(ExpShifted);

float row_max(const float* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(RowMax)(x, n); }
int64_t row_argmax(const float* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(RowArgmax)(x, n); }
double exp_shifted(const float* x, int64_t n, float m, float* out) {
  return HWY_DYNAMIC_DISPATCH(ExpShifted)(x, n, m, out);
}

}  // namespace jitgen::cpu::simd
#endif  // HWY_ONCE
