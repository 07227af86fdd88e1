#include "core/finite.h"

#include <cmath>
#include <cstdint>

namespace jitgen {

bool all_finite(const Tensor& t) {
  const int64_t n = t.numel();
  switch (t.dtype()) {
    case DType::kF32: {
      const float* p = static_cast<const float*>(t.data());
      for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(p[i])) return false;
      return true;
    }
    case DType::kF16:
    case DType::kBF16: {
      // Exponent all ones = inf or nan, in both half formats.
      const uint16_t mask = t.dtype() == DType::kF16 ? 0x7c00 : 0x7f80;
      const uint16_t* p = static_cast<const uint16_t*>(t.data());
      for (int64_t i = 0; i < n; ++i)
        if ((p[i] & mask) == mask) return false;
      return true;
    }
    case DType::kI32: return true;
  }
  return true;
}

}  // namespace jitgen
