#include "models/weight_layout.h"

#include <fmt/format.h>

#include "jitgen/error.h"

namespace jitgen {

Tensor linear_to_kernel_layout(const Tensor& w) {
  const Tensor f = w.to_f32();  // [out, in]
  const int64_t N = f.dim(0), K = f.dim(1);
  Tensor t = Tensor::zeros({K, N});
  const float* src = f.f32();
  float* dst = t.f32();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) dst[k * N + n] = src[n * K + k];
  return t;
}

Tensor checked_f32(const io::TensorEntry& e, const Shape& expected, bool linear) {
  if (e.tensor.shape() != expected)
    throw_invalid_file(fmt::format("{}: tensor \"{}\" has shape {}, expected {} from config.json", e.file, e.name,
                                   shape_str(e.tensor.shape()), shape_str(expected)));
  const DType dt = e.tensor.dtype();
  if (dt != DType::kF32 && dt != DType::kF16 && dt != DType::kBF16)
    throw_invalid_file(fmt::format("{}: tensor \"{}\" has dtype {}, expected F32, F16 or BF16", e.file, e.name,
                                   dtype_name(dt)));
  return linear ? linear_to_kernel_layout(e.tensor) : e.tensor.to_f32();
}

}  // namespace jitgen
