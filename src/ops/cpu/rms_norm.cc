// RMSNorm (Highway kernel, cpu/simd.cc) and the elementwise product of the gated MLP: a plain loop the compiler
// vectorizes for the build's baseline (memory-bound). ops/reference_llama.cc is their oracle.
#include "ops/cpu/simd.h"
#include "ops/cpu_kernels.h"
#include "runtime/thread_pool.h"

namespace jitgen::cpu {

void rms_norm(const float* x, const float* gamma, float eps, int64_t R, int64_t C, float* out) {
  simd::rms_norm(x, gamma, eps, R, C, out);  // Highway, per SIMD target (cpu/simd.cc)
}

void mul(const float* a, const float* b, float* out, int64_t n) {
  runtime::parallel_for(n, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) out[i] = a[i] * b[i];
  });
}

}  // namespace jitgen::cpu
