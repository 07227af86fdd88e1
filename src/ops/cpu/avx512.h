#pragma once
// AVX-512 (F, BW, DQ, VL) kernels. Compiled with those flags in their own file, on x86-64 only; callers dispatch
// here only when the selected SIMD target is avx512 (cpu/simd.h). Shapes use the legend of graph/builder.h. On other
// architectures only bf16_dot / set_bf16_dot exist (always false there, cpu_kernels.cc).
#include <cstdint>

#include "graph/builder.h"
#include "ops/cpu/panel_epilogue.h"
#include "ops/prepared_weights.h"

namespace jitgen::cpu::avx512 {

using Epilogue = PanelEpilogue;

// y[M, N] = epilogue(x[M, K] @ W) for the panels [p0, p1) of `w` (all M rows). x's rows are x_stride floats apart
// (>= K). bf16 panels read the activations as `x_pairs` instead (bf16_pairs of x, made once per call by the caller,
// not once per panel range), rows pairs_stride words apart (>= k_stored / 2). The caller picks the strides
// (cpu_kernels.cc: rows an odd number of cache lines apart, so a tile's rows do not share one L1 set).
void gemm_panels(const float* x, int64_t x_stride, const uint32_t* x_pairs, int64_t pairs_stride, int64_t M,
                 const PackedLinear& w, const Epilogue& e, float* y, int64_t p0, int64_t p1);
// x[M, K] rounded to bf16 (round to nearest even, NaN kept: f32_to_bf16) as rows of w.k_stored() / 2 k pairs,
// an odd K padded with a zero: the activation operand of bf16 panels. Row m starts at out + m * out_stride (words,
// >= k_stored / 2); the words between rows are not written.
void bf16_pairs(const float* x, int64_t M, int64_t K, int64_t k_stored, uint32_t* out, int64_t out_stride);
// bf16 panels use AVX512_BF16's dot product when the CPU has it (default), else widen to fp32 FMAs; same
// products, the tests run both.
bool bf16_dot();
void set_bf16_dot(bool allow);
// y = act(x) on n elements with the panels' epilogue code (store_tile): the avx512 target's standalone
// activation, so that a fused epilogue and a separate activation give the same bits (eager == compiled).
void activation(const float* x, float* y, int64_t n, Activation kind);

}  // namespace jitgen::cpu::avx512
