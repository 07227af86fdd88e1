#pragma once
// The weight formats the quantization tests run (tests/quant_test.cc on the CPU, tests/cuda_kernels_test.cc on the
// GPU): every combination ops/quant.h supports as {bits, group (0 = one per output channel), fp16 scale, zero point,
// Q4_0's scale rule}.
#include <vector>

#include "ops/quant.h"

namespace jitgen::test {

inline std::vector<cpu::QuantSpec> all_quant_specs() {
  return {{8, 32, false, false}, {8, 0, false, false},  {8, 128, true, false}, {4, 32, false, false},
          {4, 128, false, false}, {4, 32, false, true}, {4, 128, true, true},  {4, 32, true, false},
          {4, 32, false, false, true}, {4, 128, true, false, true}};
}

}  // namespace jitgen::test
