#pragma once
// Finiteness checks on tensors: for an opt-in weight check at load time (NaN/Inf in a checkpoint) and for tests.
#include "core/tensor.h"

namespace jitgen {

// False when a floating-point tensor holds a NaN or an infinity (F32 / F16 / BF16; I32 is always finite).
bool all_finite(const Tensor& t);

}  // namespace jitgen
