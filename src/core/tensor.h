#pragma once
// Tensor: a typed, shaped, contiguous (row-major) buffer. Owning (heap) or a view into memory that
// someone else keeps alive (e.g. an mmapped checkpoint). Shapes are int64 dims, outermost first.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "jitgen/error.h"

namespace jitgen {

enum class DType : uint8_t { kF32, kF16, kBF16, kI32 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "F32", "F16", "BF16", "I32" (safetensors spelling)

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& s);
// `s` with its last dimension replaced (a matmul over the last dimension).
Shape with_last(Shape s, int64_t last);
// The product of all but the last dimension: the rows a row-wise op (layer norm, linear) runs over.
int64_t rows_of(const Shape& s);
std::string shape_str(const Shape& s);  // "[2, 3, 768]"

class Tensor {
 public:
  Tensor() = default;
  // A zero-initialised owning tensor.
  static Tensor zeros(Shape shape, DType dtype = DType::kF32);
  // A view over memory kept alive by `owner` (may be null when the caller guarantees lifetime).
  static Tensor view(void* data, Shape shape, DType dtype, std::shared_ptr<void> owner = nullptr);

  bool defined() const { return data_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i < 0 ? shape_.size() + i : i]; }
  int rank() const { return static_cast<int>(shape_.size()); }
  DType dtype() const { return dtype_; }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  void* data() { return data_; }
  const void* data() const { return data_; }
  float* f32();
  const float* f32() const;
  int32_t* i32();
  const int32_t* i32() const;

  // Same storage, new shape with the same element count.
  Tensor reshape(Shape shape) const;
  // A deep copy converted to F32 (F16/BF16/F32 sources).
  Tensor to_f32() const;

 private:
  std::shared_ptr<void> owner_;
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::kF32;
};

// Scalar conversions used by loaders and kernels.
float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t b);
uint16_t f32_to_f16(float f);   // round to nearest even
uint16_t f32_to_bf16(float f);  // round to nearest even

}  // namespace jitgen
