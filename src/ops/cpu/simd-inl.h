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

}  // namespace jitgen::cpu::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // JITGEN_OPS_CPU_SIMD_INL_H_ toggle
