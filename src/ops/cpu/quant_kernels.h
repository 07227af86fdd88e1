#pragma once
// The quantized panel kernels behind cpu::quant_linear (ops/quant.h has the math and the layout). Each runs the
// panels [p0, p1) of `w` for all M rows of `a` and hands every finished MR x 32 tile (already times sx, no bias)
// to the sink, which applies bias, activation and residual and stores it. amx, vnni, avxvnni and avx2 are compiled
// in their own files with per-function target attributes, called only after cpuid says the CPU has them.
#include <cstdint>

#include "ops/quant.h"

namespace jitgen::cpu::quant {

struct TileSink {
  const float* bias = nullptr;          // [N] or null
  const LinearEpilogue* epilogue = nullptr;
  float* y = nullptr;                   // [M, N]
  int64_t N = 0;
  // tile [mr][32]: rows m0 .. m0 + mr - 1 of panel p.
  void store(const float* tile, int64_t m0, int mr, int64_t p) const;
};

// The most rows (MR) a kernel's tile has: vnni and portable 4, avxvnni 3, avx2 2; TileSink::store holds that many.
constexpr int kTileRows = 4;

void panels_portable(const QuantActs& a, const QuantLinear& w, const TileSink& out, int64_t p0, int64_t p1);
void panels_avx2(const QuantActs& a, const QuantLinear& w, const TileSink& out, int64_t p0, int64_t p1);
void panels_avxvnni(const QuantActs& a, const QuantLinear& w, const TileSink& out, int64_t p0, int64_t p1);
void panels_vnni(const QuantActs& a, const QuantLinear& w, const TileSink& out, int64_t p0, int64_t p1);
// Rows [m_begin, M) of panel p with the vnni batch tiles (the rows of a batch beyond the amx path's 16-row tiles).
void panel_rows_vnni(const QuantActs& a, const QuantLinear& w, const TileSink& out, int64_t p, int64_t m_begin);
// AMX tiles where amx_runs(M, w) (quant_amx.cc: M >= 16 rows, G a multiple of 32 and the tile state granted), the
// vnni kernels elsewhere. Only where amx_cpu().
void panels_amx(const QuantActs& a, const QuantLinear& w, const TileSink& out, int64_t p0, int64_t p1);
bool amx_runs(int64_t M, const QuantLinear& w);
// The CPU has AMX-TILE and AMX-INT8 (cpuid only; the path also needs the vnni path's AVX-512 VNNI, quant.cc).
bool amx_cpu();
// Linux granted this process the tile state (asked on the first call; false without amx_cpu()).
bool amx_granted();
// TileSink::store with AVX-512 (quant_vnni.cc; the sink's own store where an activation runs in between). Only where
// the CPU has AVX-512 BW / VL.
void store_tile_avx512(const TileSink& sink, const float* tile, int64_t m0, int mr, int64_t p);


// One row of quantize_activations with AVX-512 (bit-equal to the scalar code: the same max, scale, product and
// round-to-nearest-even). q: Kp bytes, zeroed; qsum: groups ints, zeroed. Needs G % 16 == 0 or one group.
void quantize_row_avx512(const float* x, int64_t K, int64_t G, int8_t* q, int32_t* qsum, float* sx);
// The same with AVX2 (bit-equal too). Needs G % 8 == 0 or one group.
void quantize_row_avx2(const float* x, int64_t K, int64_t G, int8_t* q, int32_t* qsum, float* sx);

// The zero point z of (panel p, group g, column j): per column with zero points, else the format's constant.
inline int32_t zero_of(const QuantLinear& w, int64_t p, int64_t g, int j) {
  if (w.has_zeros()) return w.group_zeros(p, g)[j];
  return w.spec.bits == 8 ? 128 : 8;
}

}  // namespace jitgen::cpu::quant
