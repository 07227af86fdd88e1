// RMSNorm and the elementwise product of the gated MLP: plain loops the compiler vectorizes for the build's baseline
// (no target-specific code here, so every CPU runs them; ops/reference_llama.cc is their oracle).
#include <cmath>

#include "ops/cpu_kernels.h"
#include "runtime/thread_pool.h"

namespace jitgen::cpu {

void rms_norm(const float* x, const float* gamma, float eps, int64_t R, int64_t C, float* out) {
  runtime::parallel_for(R, 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * C;
      float* yr = out + r * C;
      // 8 partial sums: vectorizable without -ffast-math, and closer to torch's pairwise mean than one chain.
      float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t c = 0;
      for (; c + 8 <= C; c += 8)
        for (int k = 0; k < 8; ++k) part[k] += xr[c + k] * xr[c + k];
      for (; c < C; ++c) part[0] += xr[c] * xr[c];
      float ss = 0;
      for (float p : part) ss += p;
      const float inv = 1.0f / std::sqrt(ss / static_cast<float>(C) + eps);
      for (int64_t i = 0; i < C; ++i) yr[i] = gamma[i] * (xr[i] * inv);  // HF: weight * (x * rsqrt(var + eps))
    }
  });
}

void mul(const float* a, const float* b, float* out, int64_t n) {
  runtime::parallel_for(n, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) out[i] = a[i] * b[i];
  });
}

}  // namespace jitgen::cpu
