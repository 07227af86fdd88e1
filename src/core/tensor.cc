#include "core/tensor.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace jitgen {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kI32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kI32: return "I32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
  }
  return "?";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape with_last(Shape s, int64_t last) {
  s.back() = last;
  return s;
}

int64_t rows_of(const Shape& s) { return shape_numel(s) / s.back(); }

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  // Refuse what cannot fit in RAM before asking for it (the size in floating point, so an absurd shape cannot
  // overflow int64 first): with overcommit a huge aligned_alloc succeeds and the memset below would get the process
  // OOM-killed instead of giving a clear kLimit error (e.g. an absurd batch size).
  static const double ram = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
  double want = static_cast<double>(dtype_size(dtype));
  for (int64_t d : t.shape_) want *= static_cast<double>(d);
  if (!(want >= 0) || (ram > 0 && want > ram))
    throw_limit(fmt::format("out of memory: a tensor of shape {} needs {:.1f} GiB, more than this machine's {:.1f} GiB",
                            shape_str(t.shape_), want / (1 << 30), ram / (1 << 30)));
  // 64-byte alignment keeps SIMD loads aligned and rows cache-line aligned.
  size_t bytes = (std::max<size_t>(t.nbytes(), 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw_limit(fmt::format("out of memory allocating a tensor of shape {}", shape_str(t.shape_)));
  std::memset(p, 0, bytes);
  t.owner_ = std::shared_ptr<void>(p, std::free);
  t.data_ = p;
  return t;
}

Tensor Tensor::view(void* data, Shape shape, DType dtype, std::shared_ptr<void> owner) {
  Tensor t;
  t.owner_ = std::move(owner);
  t.data_ = data;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  return t;
}

float* Tensor::f32() {
  JITGEN_CHECK(dtype_ == DType::kF32);
  return static_cast<float*>(data_);
}
const float* Tensor::f32() const {
  JITGEN_CHECK(dtype_ == DType::kF32);
  return static_cast<const float*>(data_);
}
int32_t* Tensor::i32() {
  JITGEN_CHECK(dtype_ == DType::kI32);
  return static_cast<int32_t*>(data_);
}
const int32_t* Tensor::i32() const {
  JITGEN_CHECK(dtype_ == DType::kI32);
  return static_cast<const int32_t*>(data_);
}

Tensor Tensor::reshape(Shape shape) const {
  JITGEN_CHECK(shape_numel(shape) == numel());
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::to_f32() const {
  Tensor out = zeros(shape_, DType::kF32);
  float* dst = out.f32();
  const int64_t n = numel();
  switch (dtype_) {
    case DType::kF32: std::memcpy(dst, data_, n * 4); break;
    case DType::kF16: {
      auto* src = static_cast<const uint16_t*>(data_);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
      break;
    }
    case DType::kBF16: {
      auto* src = static_cast<const uint16_t*>(data_);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
      break;
    }
    case DType::kI32: {
      auto* src = static_cast<const int32_t*>(data_);
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
      break;
    }
  }
  return out;
}

float bf16_to_f32(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // NaN stays NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0);  // Inf / NaN
  if (absx >= 0x477ff000u) return sign | 0x7c00u;                                      // overflow -> Inf
  if (absx < 0x38800000u) {                                                             // subnormal / zero
    if (absx < 0x33000000u) return sign;
    const uint32_t e = absx >> 23;
    const uint32_t m = (absx & 0x7fffffu) | 0x800000u;
    const int shift = 126 - static_cast<int>(e);  // 113 + 13
    uint32_t r = m >> (shift);
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return sign | static_cast<uint16_t>(r);
  }
  uint32_t r = absx - 0x38000000u;  // rebias exponent 127 -> 15
  r += 0xfffu + ((r >> 13) & 1u);
  return sign | static_cast<uint16_t>(r >> 13);
}

}  // namespace jitgen
