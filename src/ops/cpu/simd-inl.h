// What every Highway kernel file shares (cpu/simd.cc, cpu/simd_attention.cc, cpu/simd_elementwise.cc,
// cpu/simd_vocab.cc): the per-target vector types and helpers. Like Highway's own -inl.h headers it has no
// #pragma once: a kernel file includes it after
// hwy/foreach_target.h and hwy/highway.h, and each re-inclusion of that file (one per SIMD target) defines these
// again in that target's namespace; the toggle guard below admits exactly one copy per target.
#if defined(JITGEN_OPS_CPU_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef JITGEN_OPS_CPU_SIMD_INL_H_
#undef JITGEN_OPS_CPU_SIMD_INL_H_
#else
#define JITGEN_OPS_CPU_SIMD_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace jitgen::cpu::simd::HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
using DU = hn::RebindToUnsigned<DF>;
using VF = hn::Vec<DF>;

constexpr size_t kLanes = hn::MaxLanes(DF());

// exp(x), flushed to 0 below Highway's bound and clamped above at 88 (where fp32 exp overflows: inf, as expf).
HWY_INLINE VF ExpClamped(DF d, VF x) { return hn::Exp(d, hn::Min(x, hn::Set(d, 88.7f))); }

// kLanes bf16 values widened to fp32: a bf16 is the top half of an fp32, so a zero extension and a shift (no
// conversion instruction; AVX2 and NEON have none for bf16). The scalar bf16_to_f32 per value was an out-of-line call:
// 3.7-4.3% of a bf16 prefill on avx2 (perf, bench/results/avx2-proxy-zen4). Tails (under kLanes values) take it.
HWY_INLINE VF WidenBf16(DF d, const uint16_t* p) {
  const DU du;
  const hn::Rebind<uint16_t, DF> d16;
  return hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, p))));
}

}  // namespace jitgen::cpu::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // JITGEN_OPS_CPU_SIMD_INL_H_ toggle
