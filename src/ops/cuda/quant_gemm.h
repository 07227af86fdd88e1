#pragma once
// Weight-only quantized linear layers on the GPU (int8 / int4 weights, ops/cuda/quant_layout.h has the layout and
// the math): y[M, N] = x[M, K] @ W + bias (+ residual), x and y in the plan's storage type (fp32 / fp16 / bf16) or y
// in fp32 (logits). Two launches, both capturable in a CUDA graph (no allocation, no synchronization):
//   1. quantize_rows: one block per row: sx = max|x| / 127 and q = rint(x / sx) into the scratch, in slot order
//      (GPTQ desc_act matrices gather their permuted input rows here);
//   2. quant_matvec: one warp per output column streams that column's codes 16 bytes per lane (fully coalesced: 512
//      bytes per warp and step), dp4a against the row's activations and reduces with a shuffle tree; a block
//      covers kWarps columns and a tile of up to 8 rows, so M = 1 decode reads each weight once and M <= 32 (batched
//      decode) reads it once per 8-row tile (from L2 after the first). Prefill runs the same kernel in more row tiles.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "ops/cuda/kernels.h"

namespace jitgen::cuda {

// A quantized matrix resident on the device (DeviceWeights::quant): pointers into its buffers and the layout's sizes.
struct DeviceQuantView {
  int bits = 8;
  bool scale_f16 = false;
  int64_t K = 0, N = 0, G = 0, Gd = 0, groups = 0, row_bytes = 0;
  int32_t zero_const = 128;
  const uint8_t* codes = nullptr;    // [N][row_bytes]
  const uint16_t* scales = nullptr;  // [N][groups]
  const uint8_t* zeros = nullptr;    // [N][groups] or null
  const int32_t* perm = nullptr;     // [groups * G] or null
  int64_t slots() const { return groups * Gd; }
};

// Rows per tile of quant_matvec for M rows (1, 2, 4 or 8): host logic, unit-tested.
int quant_rows_per_tile(int64_t M);

// x [M, K] in storage s; bias [N] in storage s or null; residual [M, N] like out or null (may alias out); out [M, N]
// in storage s, or fp32 when out_f32. scratch: quant_scratch_bytes(w.slots(), M) bytes, 16-byte aligned.
void quant_linear(Storage s, const void* x, int64_t M, const DeviceQuantView& w, const void* bias, const void* residual,
                  void* out, bool out_f32, void* scratch, cudaStream_t st);

}  // namespace jitgen::cuda
