#pragma once
// Weight layout helpers every family's loader shares.
#include "core/tensor.h"
#include "io/safetensors.h"

namespace jitgen {

// [out, in] (HF nn.Linear, any of F32 / F16 / BF16) -> [in, out] f32: the layout the linear op and its prepared
// panels take.
Tensor linear_to_kernel_layout(const Tensor& out_in);

// A checkpoint tensor as f32 after checking it against config.json: shape `expected`, dtype F32, F16 or BF16.
// Throws kInvalidFile "<file>: tensor "<name>" has shape [..], expected [..] from config.json" or "... has dtype
// I32, expected F32, F16 or BF16". `linear`: also transposed to the kernel layout.
Tensor checked_f32(const io::TensorEntry& e, const Shape& expected, bool linear);

}  // namespace jitgen
