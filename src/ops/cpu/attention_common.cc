#include "ops/cpu/attention_common.h"

#include <cstring>

namespace jitgen::cpu {

void append_kv_rows(const float* k_in, const float* v_in, int64_t k_stride, int64_t v_stride, int64_t b, int64_t kv,
                    int64_t T, int64_t D, int64_t pos, float* kh, float* vh) {
  for (int64_t t = 0; t < T; ++t) {
    std::memcpy(kh + (pos + t) * D, k_in + (b * T + t) * k_stride + kv * D, D * sizeof(float));
    std::memcpy(vh + (pos + t) * D, v_in + (b * T + t) * v_stride + kv * D, D * sizeof(float));
  }
}

}  // namespace jitgen::cpu
