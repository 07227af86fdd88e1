// RMSNorm (Highway kernel, cpu/simd.cc) and the elementwise product of the gated MLP (cpu/simd_elementwise.cc).
// ops/reference_llama.cc is their oracle.
#include "ops/cpu/simd.h"
#include "ops/cpu_kernels.h"

namespace jitgen::cpu {

void rms_norm(const float* x, const float* gamma, float eps, int64_t R, int64_t C, float* out) {
  simd::rms_norm(x, gamma, eps, R, C, out);  // Highway, per SIMD target (cpu/simd.cc)
}

void mul(const float* a, const float* b, float* out, int64_t n) {
  simd::mul(a, b, out, n);  // Highway, per SIMD target (cpu/simd_elementwise.cc)
}

}  // namespace jitgen::cpu
