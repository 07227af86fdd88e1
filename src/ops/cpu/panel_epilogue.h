#pragma once
// What a panel GEMM applies to its output tile while it is still in registers (cpu/avx512.h, cpu/simd.h).
#include "graph/builder.h"

namespace jitgen::cpu {

struct PanelEpilogue {
  const float* bias = nullptr;      // [N]
  bool has_act = false;
  Activation act = Activation::kGeluTanh;
  const float* residual = nullptr;  // [M, N], added last (may alias y)
};

}  // namespace jitgen::cpu
