// Highway kernels (see cpu/simd.h). This file is compiled once per SIMD target: hwy/foreach_target.h
// re-includes it with HWY_TARGET set to each target, and the code between HWY_BEFORE_NAMESPACE and
// HWY_AFTER_NAMESPACE is built for that target in namespace HWY_NAMESPACE; the HWY_ONCE part (built once)
// exports the per-target tables and holds the target selection. Follows gemma.cpp's layout (ops/matvec-inl.h):
// one dynamic dispatch per top-level call, then plain per-target loops.
#include "ops/cpu/simd.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/tensor.h"
#include "ops/cpu/panel_streams.h"
#include "runtime/thread_pool.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/simd.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "ops/cpu/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace jitgen::cpu::simd::HWY_NAMESPACE {

constexpr int kVecs = static_cast<int>(kPanel / kLanes);  // vectors per 32-column panel row
static_assert(kPanel % kLanes == 0, "a panel row is a whole number of vectors");
// Rows per tile: accumulators (rows x kVecs) plus one panel row of weights fit the register file (16 vector
// registers on SSE / AVX2, 32 on AVX-512 and NEON).
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr int kMaxRows = 12;
#elif HWY_ARCH_ARM
constexpr int kMaxRows = 3;
#else
constexpr int kMaxRows = kVecs <= 4 ? 3 : 1;
#endif
// bf16 tiles (Tile<MR, true>) hold, besides the MR x kVecs accumulators, the tile's activations broadcast (2 MR:
// even and odd k) and one widened pair of panel vectors. AVX2: 2 rows (8 + 4 + 2 of 16 registers); 3 rows spilled
// accumulators to the stack (perf annotate at M = 8).
constexpr int kRegs = HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_ARCH_ARM ? 32 : 16;
constexpr int kMaxRowsBf16 = std::max(1, std::min(kMaxRows, (kRegs - 2) / (kVecs + 2)));

int64_t CurrentTarget() { return HWY_TARGET; }

// erfc(z) by Numerical Recipes' Chebyshev fit (fractional error < 1.2e-7 everywhere): vector erf GELU without
// a scalar std::erf per element.
HWY_INLINE VF Erfc(DF d, VF z) {
  const VF a = hn::Abs(z);
  const VF t = hn::Div(hn::Set(d, 1.0f), hn::MulAdd(hn::Set(d, 0.5f), a, hn::Set(d, 1.0f)));
  VF p = hn::Set(d, 0.17087277f);
  for (float c : {-0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f, -0.18628806f, 0.09678418f, 0.37409196f,
                  1.00002368f, -1.26551223f})
    p = hn::MulAdd(p, t, hn::Set(d, c));
  const VF r = hn::Mul(t, ExpClamped(d, hn::Sub(p, hn::Mul(a, a))));
  return hn::IfThenElse(hn::Lt(z, hn::Zero(d)), hn::Sub(hn::Set(d, 2.0f), r), r);
}

HWY_INLINE VF Act(DF d, VF v, Activation kind) {
  switch (kind) {
    case Activation::kGeluTanh: {  // HF gelu_new; tanh(u) = 1 - 2 / (exp(2u) + 1) saturates to +-1
      const VF u = hn::Mul(hn::Set(d, 0.7978845608028654f),
                           hn::MulAdd(hn::Mul(hn::Mul(v, v), v), hn::Set(d, 0.044715f), v));
      const VF e = ExpClamped(d, hn::Add(u, u));
      const VF th = hn::Sub(hn::Set(d, 1.0f), hn::Div(hn::Set(d, 2.0f), hn::Add(e, hn::Set(d, 1.0f))));
      return hn::Mul(hn::Mul(hn::Set(d, 0.5f), v), hn::Add(hn::Set(d, 1.0f), th));
    }
    case Activation::kGeluErf:  // 0.5 x (1 + erf(x / sqrt 2)) = x (1 - erfc(x / sqrt 2) / 2)
      return hn::Mul(v, hn::NegMulAdd(hn::Set(d, 0.5f), Erfc(d, hn::Mul(v, hn::Set(d, 0.7071067811865476f))),
                                      hn::Set(d, 1.0f)));
    case Activation::kRelu:
      return hn::Max(v, hn::Zero(d));
    case Activation::kSilu:
      return hn::Div(v, hn::Add(hn::Set(d, 1.0f), ExpClamped(d, hn::Neg(v))));
  }
  return v;
}

// Bias, activation, residual and store of one output vector: columns [col, col + count) of row `m`; a partial
// vector (the last panel's tail) goes through a lane buffer so nothing past the row is read or written.
HWY_INLINE void StoreOut(DF d, VF v, const PanelEpilogue& e, float* y, int64_t N, int m, int64_t col, int64_t count) {
  if (count >= static_cast<int64_t>(kLanes)) {
    if (e.bias) v = hn::Add(v, hn::LoadU(d, e.bias + col));
    if (e.has_act) v = Act(d, v, e.act);
    if (e.residual) v = hn::Add(v, hn::LoadU(d, e.residual + m * N + col));
    hn::StoreU(v, d, y + m * N + col);
    return;
  }
  HWY_ALIGN float buf[kLanes] = {};
  if (e.bias) {
    std::memcpy(buf, e.bias + col, count * sizeof(float));
    v = hn::Add(v, hn::Load(d, buf));
  }
  if (e.has_act) v = Act(d, v, e.act);
  if (e.residual) {
    std::memcpy(buf, e.residual + m * N + col, count * sizeof(float));
    v = hn::Add(v, hn::Load(d, buf));
  }
  hn::Store(v, d, buf);
  std::memcpy(y + m * N + col, buf, count * sizeof(float));
}

// A vector of bf16 k pairs (each 32-bit word: even k in the low half, odd k in the high half) widened to fp32:
// a bf16 is the top half of an fp32, so a shift (even k) and a mask (odd k) do it, no conversion instruction
// needed (AVX2 and NEON have none for bf16). Tile widens per use, ChunkedPanel once per chunk.
HWY_INLINE void WidenPairs(DF d, hn::Vec<DU> w, VF& even, VF& odd) {
  const DU du;
  even = hn::BitCast(d, hn::ShiftLeft<16>(w));
  odd = hn::BitCast(d, hn::And(w, hn::Set(du, 0xFFFF0000u)));
}

// Prefetches `lines` 64-byte lines from `at` on, spread evenly over a loop of `iters` iterations (step() once per
// iteration, Bresenham style: no division in the loop); lines = 0 prefetches nothing. PanelRange gives each row tile
// a share of the next panel.
struct SpreadPrefetch {
  const char* at = nullptr;
  int64_t lines = 0, iters = 1, credit = 0;
  HWY_INLINE void step() {
    credit += lines;
    while (credit >= iters) {
      credit -= iters;
      hwy::Prefetch(at);
      at += 64;
    }
  }
};

// One MR x 32 output tile over the whole K. fp32 panels: x rows of K floats. bf16 panels: one row as xp, its k pairs
// (Kq words); several rows as x, rows of 2 Kq floats (the activations rounded to bf16, widened: WidenRows); each
// panel vector widened (WidenPairs) as it is used. Every output is one chain of FMAs in k order from zero (a bf16
// pair: even k, then odd), as in StreamTile and ChunkTile: a row's outputs do not depend on the tile it falls in, so
// a request's tokens do not change with the rows batched beside it (continuous batching; a 1-row remainder tile
// with its own even / odd sums parted greedy texts of the server). The 1-row tile has fewer FMA chains in flight;
// it runs only as a remainder beside full tiles over the same panel (M = 1 takes StreamTile).
template <int MR, bool kBf16>
HWY_INLINE void Tile(const float* x, const uint32_t* xp, int64_t K, const void* panel_data, const PanelEpilogue& e,
                     float* y, int64_t N, int64_t n0, int64_t ncols, SpreadPrefetch pf = {}) {
  const DF d;
  const DU du;
  VF acc[MR][kVecs];
  for (int m = 0; m < MR; ++m)
    for (int v = 0; v < kVecs; ++v) acc[m][v] = hn::Zero(d);
  if constexpr (kBf16) {
    const uint32_t* panel = static_cast<const uint32_t*>(panel_data);
    const int64_t Kq = K;  // k pairs
    if constexpr (MR == 1) {
      // One row: its k pairs split in registers, no fp32 copy of x to make per call (that copy cost ~10% at M = 1,
      // kernels_bench gemm).
      for (int64_t q = 0; q < Kq; ++q) {
        const uint32_t* row = panel + q * kPanel;
        if (pf.lines) pf.step();
        const VF xe = hn::BitCast(d, hn::Set(du, xp[q] << 16));
        const VF xo = hn::BitCast(d, hn::Set(du, xp[q] & 0xFFFF0000u));
        for (int v = 0; v < kVecs; ++v) {
          VF even, odd;
          WidenPairs(d, hn::Load(du, row + v * kLanes), even, odd);
          acc[0][v] = hn::MulAdd(xo, odd, hn::MulAdd(xe, even, acc[0][v]));
        }
      }
    } else {
      // Several rows: vector by vector of the panel row, every row of the tile, so one widened pair is live beside
      // the MR x kVecs accumulators and the 2 MR broadcast activations (kMaxRowsBf16); the activations come widened
      // to fp32 (WidenRows) and are broadcast from memory (a load, no shuffle). Widening the whole panel row first
      // (8 more registers) spilled accumulators to the stack on AVX2.
      for (int64_t q = 0; q < Kq; ++q) {
        const uint32_t* row = panel + q * kPanel;
        if (pf.lines) pf.step();
        for (int v = 0; v < kVecs; ++v) {
          VF even, odd;
          WidenPairs(d, hn::Load(du, row + v * kLanes), even, odd);
          for (int m = 0; m < MR; ++m) {
            acc[m][v] = hn::MulAdd(hn::Set(d, x[m * 2 * Kq + 2 * q]), even, acc[m][v]);
            acc[m][v] = hn::MulAdd(hn::Set(d, x[m * 2 * Kq + 2 * q + 1]), odd, acc[m][v]);
          }
        }
      }
    }
  } else {
    const float* panel = static_cast<const float*>(panel_data);
    for (int64_t k = 0; k < K; ++k) {
      const float* row = panel + k * kPanel;
      if (pf.lines) pf.step();
      VF w[kVecs];
      for (int v = 0; v < kVecs; ++v) w[v] = hn::Load(d, row + v * kLanes);
      for (int m = 0; m < MR; ++m) {
        const VF xv = hn::Set(d, x[m * K + k]);
        for (int v = 0; v < kVecs; ++v) acc[m][v] = hn::MulAdd(xv, w[v], acc[m][v]);
      }
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int v = 0; v < kVecs; ++v) {
      const int64_t count = ncols - v * static_cast<int64_t>(kLanes);
      if (count <= 0) break;
      StoreOut(d, acc[m][v], e, y, N, m, n0 + v * kLanes, count);
    }
}

// Tile<mr> for a run-time mr in [1, MR].
template <int MR, bool kBf16>
HWY_INLINE void TileRows(int mr, const float* x, const uint32_t* xp, int64_t K, const void* panel,
                         const PanelEpilogue& e, float* y, int64_t N, int64_t n0, int64_t ncols,
                         SpreadPrefetch pf = {}) {
  if constexpr (MR > 1) {
    if (mr < MR) return TileRows<MR - 1, kBf16>(mr, x, xp, K, panel, e, y, N, n0, ncols, pf);
  }
  Tile<MR, kBf16>(x, xp, K, panel, e, y, N, n0, ncols, pf);
}

// Batch-1 decode (M = 1) streams every weight once from memory, and one sequential stream per core does not reach
// the memory's rate: on Zen 3 (avx2) a core reads 13-17 GB/s from one stream and 17.5-20 from 2-4 far-apart
// streams (generate_bench --roofline). So the M = 1 tile walks S panels from S equal parts of the thread's panel
// range in one k loop: S streams at once, one accumulator set per panel (S x kVecs FMA chains, each output one
// chain in k order). The lm_head GEMV read 12.3 GB/s as one stream, 16.0 as 2, 16.2-18.4 as 3 (kernels_bench).
// S is what the register file holds beside the broadcast activations: 3 on AVX2 and NEON, 1 on SSE4 and EMU128
// (whose panel rows take 8 registers), where Tile<1> runs instead.
constexpr int kStreams = std::max(1, std::min(3, (kRegs - 2) / kVecs));

template <int S, bool kBf16>
HWY_INLINE void StreamTile(const float* x, const uint32_t* xp, int64_t K, const void* const* panels,
                           const PanelEpilogue& e, float* y, int64_t N, const int64_t* n0, const int64_t* ncols) {
  const DF d;
  const DU du;
  VF acc[S][kVecs];
  for (int s = 0; s < S; ++s)
    for (int v = 0; v < kVecs; ++v) acc[s][v] = hn::Zero(d);
  if constexpr (kBf16) {
    for (int64_t q = 0; q < K; ++q) {
      const VF xe = hn::BitCast(d, hn::Set(du, xp[q] << 16));
      const VF xo = hn::BitCast(d, hn::Set(du, xp[q] & 0xFFFF0000u));
      for (int s = 0; s < S; ++s) {
        const uint32_t* row = static_cast<const uint32_t*>(panels[s]) + q * kPanel;
        for (int v = 0; v < kVecs; ++v) {
          VF even, odd;
          WidenPairs(d, hn::Load(du, row + v * kLanes), even, odd);
          acc[s][v] = hn::MulAdd(xo, odd, hn::MulAdd(xe, even, acc[s][v]));
        }
      }
    }
  } else {
    for (int64_t k = 0; k < K; ++k) {
      const VF xv = hn::Set(d, x[k]);
      for (int s = 0; s < S; ++s) {
        const float* row = static_cast<const float*>(panels[s]) + k * kPanel;
        for (int v = 0; v < kVecs; ++v) acc[s][v] = hn::MulAdd(xv, hn::Load(d, row + v * kLanes), acc[s][v]);
      }
    }
  }
  for (int s = 0; s < S; ++s)
    for (int v = 0; v < kVecs; ++v) {
      const int64_t count = ncols[s] - v * static_cast<int64_t>(kLanes);
      if (count > 0) StoreOut(d, acc[s][v], e, y, N, 0, n0[s] + v * kLanes, count);
    }
}

// StreamTile<live> for a run-time live in [1, S]. A panel alone (a range's tail) keeps the same one chain per output
// (fewer chains in flight, for a panel or two), so an output's bits do not depend on how the threads split the range.
template <int S, bool kBf16>
HWY_INLINE void StreamTiles(int live, const float* x, const uint32_t* xp, int64_t K, const void* const* panels,
                            const PanelEpilogue& e, float* y, int64_t N, const int64_t* n0, const int64_t* ncols) {
  if constexpr (S > 1) {
    if (live < S) return StreamTiles<S - 1, kBf16>(live, x, xp, K, panels, e, y, N, n0, ncols);
  }
  StreamTile<S, kBf16>(x, xp, K, panels, e, y, N, n0, ncols);
}

// bf16 panels over several row tiles: a panel serves several row tiles, and widened per tile (Tile) the widening
// would repeat M / kMaxRows times. So K goes in chunks of kChunk: the chunk of the panel is widened once into
// kChunk x 32 fp32 (16 KiB) that stays in L1 while every row tile runs over it, and the first tile prefetches the
// next chunk, so the memory stream goes on while the other tiles compute. (fp32 panels keep Tile over the whole K:
// measured on Zen 4 at avx2, M = 8 and 32, chunking them lost 10-20% -- their tiles stream each panel from memory
// once and re-read it from L2 at the speed the FMAs need.) A
// tile's accumulators carry from chunk to chunk through `part` ([rows, 32] fp32, stored and reloaded exactly), so
// every output is one chain of FMAs in k order; the epilogue runs after the last chunk. The rows come packed per
// tile (PackTiles: [k][mr], one contiguous run per tile), not as M rows K apart, which would all fall into the same
// few L1 sets.
constexpr int64_t kChunk = 128;
// ChunkedPanel past this many row tiles (avx2, Zen 4: M = 32 and 128 +20-30%; at M = 8, three tiles, it lost
// 5-8% to Tile, which overlaps the memory stream with the FMAs better).
constexpr int64_t kChunkedMinTiles = 4;
// Rows per pass over a chunk: `part` holds their accumulators (on the stack: no allocation per call).
constexpr int64_t kChunkRows = 96;
static_assert(kChunkRows % kMaxRows == 0, "row tiles line up with PackTiles' tiles");

// Rows [0, mr) of `half` (rows ld bf16 apart) widened to fp32 and interleaved: x[m][k] at out[k mr + m]. mr = 1
// is WidenRows' plain copy; 2 and 3 (every AVX2 / NEON tile) store the rows' vectors interleaved; wider tiles (AVX3)
// go lane by lane through a buffer.
void WidenInterleaved(const uint16_t* half, int64_t ld, int64_t n, int64_t mr, float* out) {
  const DF d;
  constexpr int64_t L = static_cast<int64_t>(kLanes);
  int64_t k = 0;
  if (mr == 1) {
    for (; k + L <= n; k += L) hn::StoreU(WidenBf16(d, half + k), d, out + k);
  } else if (mr == 2) {
    for (; k + L <= n; k += L)
      hn::StoreInterleaved2(WidenBf16(d, half + k), WidenBf16(d, half + ld + k), d, out + k * 2);
  } else if (mr == 3) {
    for (; k + L <= n; k += L)
      hn::StoreInterleaved3(WidenBf16(d, half + k), WidenBf16(d, half + ld + k), WidenBf16(d, half + 2 * ld + k), d,
                            out + k * 3);
  } else {
    HWY_ALIGN float buf[kLanes];
    for (; k + L <= n; k += L)
      for (int64_t m = 0; m < mr; ++m) {
        hn::Store(WidenBf16(d, half + m * ld + k), d, buf);
        for (int64_t i = 0; i < L; ++i) out[(k + i) * mr + m] = buf[i];
      }
  }
  for (; k < n; ++k)
    for (int64_t m = 0; m < mr; ++m) out[k * mr + m] = bf16_to_f32(half[m * ld + k]);
}

// The rows of x (M rows of ld / 2 bf16 pairs, Bf16Pairs) widened to fp32 and packed per row tile: tile rows
// [r0, r0 + mr), r0 a multiple of kMaxRows, at out + r0 ld as [ld][mr] (x[r][k] at out[r0 ld + k mr + r - r0]).
void PackTiles(const uint32_t* xp, int64_t M, int64_t ld, float* out) {
  const uint16_t* half = reinterpret_cast<const uint16_t*>(xp);
  for (int64_t r0 = 0; r0 < M; r0 += kMaxRows)
    WidenInterleaved(half + r0 * ld, ld, ld, std::min<int64_t>(kMaxRows, M - r0), out + r0 * ld);
}

// n bf16 values (the activation pairs, Bf16Pairs) widened to fp32 in place order.
void WidenRows(const uint32_t* xp, int64_t n, float* out) {
  WidenInterleaved(reinterpret_cast<const uint16_t*>(xp), n, n, 1, out);
}

// A packed tile of MR rows (x: [kc][MR]) times chunk rows [0, kc) of `w` ([kc][32] fp32), into part rows [0, MR);
// `last`: apply the epilogue and store y instead. `ahead`: the next chunk's panel data, `step` bytes a k, prefetched
// a k at a time for its first `ahead_k` k (0: none).
template <int MR>
HWY_INLINE void ChunkTile(const float* HWY_RESTRICT x, const float* HWY_RESTRICT w, int64_t kc, bool first, bool last,
                          const char* ahead, int64_t ahead_k, int64_t step, float* HWY_RESTRICT part, const PanelEpilogue& e, float* y,
                          int64_t N, int64_t n0, int64_t ncols) {
  const DF d;
  VF acc[MR][kVecs];
  for (int m = 0; m < MR; ++m)
    for (int v = 0; v < kVecs; ++v) acc[m][v] = first ? hn::Zero(d) : hn::Load(d, part + m * kPanel + v * kLanes);
  for (int64_t k = 0; k < kc; ++k) {
    if (k < ahead_k)
      for (int64_t b = 0; b < step; b += 64) hwy::Prefetch(ahead + k * step + b);
    const float* row = w + k * kPanel;
    for (int m = 0; m < MR; ++m) {
      const VF xv = hn::Set(d, x[k * MR + m]);
      for (int v = 0; v < kVecs; ++v) acc[m][v] = hn::MulAdd(xv, hn::Load(d, row + v * kLanes), acc[m][v]);
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int v = 0; v < kVecs; ++v) {
      if (!last) {
        hn::Store(acc[m][v], d, part + m * kPanel + v * kLanes);
        continue;
      }
      const int64_t count = ncols - v * static_cast<int64_t>(kLanes);
      if (count > 0) StoreOut(d, acc[m][v], e, y, N, m, n0 + v * kLanes, count);
    }
}

template <int MR>
HWY_INLINE void ChunkTileRows(int mr, const float* x, const float* w, int64_t kc, bool first, bool last,
                              const char* ahead, int64_t ahead_k, int64_t step, float* part, const PanelEpilogue& e, float* y,
                              int64_t N, int64_t n0, int64_t ncols) {
  if constexpr (MR > 1) {
    if (mr < MR) return ChunkTileRows<MR - 1>(mr, x, w, kc, first, last, ahead, ahead_k, step, part, e, y, N, n0, ncols);
  }
  ChunkTile<MR>(x, w, kc, first, last, ahead, ahead_k, step, part, e, y, N, n0, ncols);
}

// xt: x packed by PackTiles (ld = K = k_stored), M > kMaxRows; panel_data: one bf16 panel.
void ChunkedPanel(const float* xt, int64_t M, int64_t K, const uint32_t* panel_data, const PanelEpilogue& e, float* y,
                  int64_t N, int64_t n0, int64_t ncols) {
  const DF d;
  const DU du;
  HWY_ALIGN float part[kChunkRows * kPanel];
  HWY_ALIGN float wide[kChunk * kPanel];
  constexpr int64_t step = kPanel * 2;  // panel bytes a k (half a k pair's 128)
  const char* bytes = reinterpret_cast<const char*>(panel_data);
  for (int64_t r0 = 0; r0 < M; r0 += kChunkRows) {
    const int64_t rows = std::min(kChunkRows, M - r0);
    for (int64_t k0 = 0; k0 < K; k0 += kChunk) {
      const int64_t kc = std::min(kChunk, K - k0);
      // k pairs (k0 and kc are even: K is k_stored) to rows of fp32, once per chunk
      const uint32_t* words = panel_data + k0 / 2 * kPanel;
      for (int64_t q = 0; q < kc / 2; ++q)
        for (int v = 0; v < kVecs; ++v) {
          VF even, odd;
          WidenPairs(d, hn::Load(du, words + q * kPanel + v * kLanes), even, odd);
          hn::Store(even, d, wide + 2 * q * kPanel + v * kLanes);
          hn::Store(odd, d, wide + (2 * q + 1) * kPanel + v * kLanes);
        }
      // The next chunk's bytes, fetched during the first tile.
      const int64_t next = std::min(kChunk, K - k0 - kc);
      const char* ahead = bytes + (k0 + kc) * step;
      for (int64_t m0 = 0; m0 < rows; m0 += kMaxRows) {
        const int mr = static_cast<int>(std::min<int64_t>(kMaxRows, rows - m0));
        const int64_t m = r0 + m0;
        PanelEpilogue em = e;
        if (em.residual) em.residual += m * N;
        ChunkTileRows<kMaxRows>(mr, xt + m * K + k0 * mr, wide, kc, k0 == 0, k0 + kc >= K, ahead, m0 == 0 ? next : 0,
                                step, part + m0 * kPanel, em, y + m * N, N, n0, ncols);
      }
    }
  }
}

template <bool kBf16>
void PanelRange(const float* x, const uint32_t* xp, const float* xt, int64_t M, const PackedLinear& w, const PanelEpilogue& e, float* y,
                int64_t p0, int64_t p1) {
  const int64_t N = w.N, K = kBf16 ? w.k_stored() / 2 : w.K;  // bf16: k pairs
  const auto panel_at = [&](int64_t p) {
    return kBf16 ? static_cast<const void*>(w.bf16() + p * K * 2 * kPanel)
                 : static_cast<const void*>(w.f32() + p * K * kPanel);
  };
  if (kStreams > 1 && M == 1) {
    for_each_stream_group<kStreams>(p0, p1, [&](const int64_t* ps, int live) {
      const void* panels[kStreams] = {};
      int64_t n0[kStreams] = {}, ncols[kStreams] = {};
      for (int s = 0; s < live; ++s) {
        panels[s] = panel_at(ps[s]);
        n0[s] = ps[s] * kPanel;
        ncols[s] = std::min<int64_t>(kPanel, N - n0[s]);
      }
      StreamTiles<kStreams, kBf16>(live, x, xp, K, panels, e, y, N, n0, ncols);
    });
    return;
  }
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t n0 = p * kPanel, ncols = std::min<int64_t>(kPanel, N - n0);
    const void* panel = panel_at(p);
    if constexpr (kBf16) {
      if (xt) {
        ChunkedPanel(xt, M, 2 * K, static_cast<const uint32_t*>(panel), e, y, N, n0, ncols);
        continue;
      }
    }
    constexpr int kRows = kBf16 ? kMaxRowsBf16 : kMaxRows;
    // While its row tiles run over panel p (the first streaming it from memory, the others re-reading it from L2),
    // they prefetch the next panel of the range, each tile an equal share spread over its k loop. Without this the
    // memory stream stopped for the tiles after the first and its time added to theirs instead of overlapping:
    // f32 M = 8 over 40 c_fc weights streamed from memory took 0.85-1.0 ms with it and 1.26-1.38 without (Zen 3, avx2,
    // 1 thread; bench/results/decode-streams). The first tile only (leaving the stream to the hardware while the
    // others prefetch) was slower at M = 8. Tile passes `pf` every k (SpreadPrefetch).
    const int64_t tiles = (M + kRows - 1) / kRows;
    // Rows of the tile at m0: kRows, but kRows + 1 rows left go as two tiles, not kRows and a 1-row tile, whose
    // 4 FMA chains (avx2 fp32) wait on the FMA latency: 3 + 2 + 2 is the same tile count (the prefetch shares) and
    // fp32 M = 4, 7 and 10 took 3-15% less time than 3 + 3 + 1 did (bench/results/batch-invariance).
    const auto mr_of = [&](int64_t m0) {
      const int64_t left = M - m0;
      return static_cast<int>(kRows > 2 && left == kRows + 1 ? left / 2 : std::min<int64_t>(kRows, left));
    };
    const int64_t lines = K * kPanel * 4 / 64;  // a panel: K rows of 128 bytes (fp32 k, or bf16 k pairs)
    const char* next = p + 1 < p1 ? static_cast<const char*>(panel_at(p + 1)) : nullptr;
    for (int64_t m0 = 0, t = 0; m0 < M; m0 += mr_of(m0), ++t) {
      const int mr = mr_of(m0);
      PanelEpilogue em = e;
      if (em.residual) em.residual += m0 * N;
      SpreadPrefetch pf;
      if (next) {
        pf.at = next + t * lines / tiles * 64;
        pf.lines = (t + 1) * lines / tiles - t * lines / tiles;
        pf.iters = K;
      }
      TileRows<kRows, kBf16>(mr, x ? x + m0 * (kBf16 ? 2 * K : K) : nullptr, kBf16 ? xp + m0 * K : nullptr, K, panel,
                             em, y + m0 * N, N, n0, ncols, pf);
    }
  }
}

void GemmPanels(const float* x, const uint32_t* xp, int64_t M, const PackedLinear& w, const PanelEpilogue& e,
                float* y) {
  const bool bf16 = w.storage == WeightStorage::kBF16;
  // ChunkedPanel reads the activations (bf16 pairs) widened to fp32 and packed per tile, made once per call.
  // thread_local: it grows once, then no allocation per call; its address, not its name, goes to the workers.
  thread_local std::vector<float> staged;
  const int64_t ld = w.k_stored();
  const float* xt = nullptr;
  if (bf16) {
    x = nullptr;  // bf16 tiles read xp (one row) or a widened copy
    if (M > 1 && static_cast<int64_t>(staged.size()) < M * ld) staged.resize(M * ld);
    if (M > kChunkedMinTiles * kMaxRows) {
      PackTiles(xp, M, ld, staged.data());
      xt = staged.data();
    } else if (M > 1) {
      WidenRows(xp, M * ld, staged.data());  // Tile's rows: [M][ld] fp32
      x = staged.data();
    }
  }
  runtime::parallel_for(w.panels, 1, [&](int64_t p0, int64_t p1) {
    if (bf16)
      PanelRange<true>(x, xp, xt, M, w, e, y, p0, p1);
    else
      PanelRange<false>(x, xp, xt, M, w, e, y, p0, p1);
  });
}

void Bf16Pairs(const float* x, int64_t M, int64_t K, int64_t k_stored, uint32_t* out) {
  const DF d;
  const DU du;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<uint16_t, DF> d16;
  const auto abs_mask = hn::Set(du, 0x7fffffffu), one = hn::Set(du, 1u), half = hn::Set(du, 0x7fffu);
  const auto quiet = hn::Set(du, 0x400000u);
  const auto inf = hn::Set(di, 0x7f800000);
  for (int64_t m = 0; m < M; ++m) {
    const float* row = x + m * K;
    uint16_t* dst = reinterpret_cast<uint16_t*>(out) + m * k_stored;
    int64_t k = 0;
    for (; k + static_cast<int64_t>(kLanes) <= K; k += kLanes) {
      const auto bits = hn::BitCast(du, hn::LoadU(d, row + k));
      const auto nan = hn::RebindMask(du, hn::Gt(hn::BitCast(di, hn::And(bits, abs_mask)), inf));
      auto r = hn::Add(bits, hn::Add(half, hn::And(hn::ShiftRight<16>(bits), one)));  // round to nearest even
      r = hn::IfThenElse(nan, hn::Or(bits, quiet), r);
      hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, hn::ShiftRight<16>(r))), d16, dst + k);
    }
    for (; k < K; ++k) dst[k] = f32_to_bf16(row[k]);
    if (k_stored > K) dst[K] = 0;
  }
}

void ActivationRange(const float* x, float* out, int64_t n, Activation kind) {
  const DF d;
  int64_t i = 0;
  for (; i + static_cast<int64_t>(kLanes) <= n; i += kLanes) hn::StoreU(Act(d, hn::LoadU(d, x + i), kind), d, out + i);
  if (i < n) {
    HWY_ALIGN float buf[kLanes] = {};
    std::memcpy(buf, x + i, (n - i) * sizeof(float));
    hn::Store(Act(d, hn::Load(d, buf), kind), d, buf);
    std::memcpy(out + i, buf, (n - i) * sizeof(float));
  }
}

void Activations(const float* x, float* out, int64_t n, Activation kind) {
  runtime::parallel_for(n, 1 << 14, [&](int64_t lo, int64_t hi) { ActivationRange(x + lo, out + lo, hi - lo, kind); });
}

void LayerNorm(const float* x, const float* gamma, const float* beta, float eps, int64_t R, int64_t C, float* out) {
  runtime::parallel_for(R, 16, [&](int64_t r0, int64_t r1) {
    const DF d;
    const int64_t full = C / static_cast<int64_t>(kLanes) * static_cast<int64_t>(kLanes);
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * C;
      float* yr = out + r * C;
      VF s = hn::Zero(d);
      for (int64_t c = 0; c < full; c += kLanes) s = hn::Add(s, hn::LoadU(d, xr + c));
      float sum = hn::GetLane(hn::SumOfLanes(d, s));
      for (int64_t c = full; c < C; ++c) sum += xr[c];
      const float mean = sum / static_cast<float>(C);
      const VF mv = hn::Set(d, mean);
      VF q = hn::Zero(d);
      for (int64_t c = 0; c < full; c += kLanes) {
        const VF dv = hn::Sub(hn::LoadU(d, xr + c), mv);
        q = hn::MulAdd(dv, dv, q);
      }
      float sq = hn::GetLane(hn::SumOfLanes(d, q));
      for (int64_t c = full; c < C; ++c) sq += (xr[c] - mean) * (xr[c] - mean);
      const float inv = 1.0f / std::sqrt(sq / static_cast<float>(C) + eps);
      const VF iv = hn::Set(d, inv);
      for (int64_t c = 0; c < full; c += kLanes) {
        const VF dv = hn::Mul(hn::Sub(hn::LoadU(d, xr + c), mv), iv);
        hn::StoreU(hn::MulAdd(dv, hn::LoadU(d, gamma + c), hn::LoadU(d, beta + c)), d, yr + c);
      }
      for (int64_t c = full; c < C; ++c) yr[c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
    }
  });
}

void RmsNorm(const float* x, const float* gamma, float eps, int64_t R, int64_t C, float* out) {
  runtime::parallel_for(R, 4, [&](int64_t r0, int64_t r1) {
    const DF d;
    const int64_t full = C / static_cast<int64_t>(kLanes) * static_cast<int64_t>(kLanes);
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * C;
      float* yr = out + r * C;
      // Two vector accumulators (several partial sums: closer to torch's pairwise mean than one chain).
      VF s0 = hn::Zero(d), s1 = hn::Zero(d);
      int64_t c = 0;
      for (; c + 2 * static_cast<int64_t>(kLanes) <= C; c += 2 * kLanes) {
        const VF a = hn::LoadU(d, xr + c), b = hn::LoadU(d, xr + c + kLanes);
        s0 = hn::MulAdd(a, a, s0);
        s1 = hn::MulAdd(b, b, s1);
      }
      for (; c < full; c += kLanes) {
        const VF a = hn::LoadU(d, xr + c);
        s0 = hn::MulAdd(a, a, s0);
      }
      float ss = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
      for (; c < C; ++c) ss += xr[c] * xr[c];
      const float inv = 1.0f / std::sqrt(ss / static_cast<float>(C) + eps);
      const VF iv = hn::Set(d, inv);
      for (c = 0; c < full; c += kLanes)  // HF: weight * (x * rsqrt(var + eps))
        hn::StoreU(hn::Mul(hn::LoadU(d, gamma + c), hn::Mul(hn::LoadU(d, xr + c), iv)), d, yr + c);
      for (; c < C; ++c) yr[c] = gamma[c] * (xr[c] * inv);
    }
  });
}

}  // namespace jitgen::cpu::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace jitgen::cpu::simd {

HWY_EXPORT(CurrentTarget);
HWY_EXPORT(GemmPanels);
HWY_EXPORT(Bf16Pairs);
HWY_EXPORT(Activations);
HWY_EXPORT(LayerNorm);
HWY_EXPORT(RmsNorm);

namespace {

struct NamedTarget {
  int64_t bit;
  const char* name;
};
// Best first. Highway's AVX3 is the AVX-512 subset today's intrinsics need (F, BW, DQ, VL).
constexpr NamedTarget kTargets[] = {
#if HWY_ARCH_X86
    {HWY_AVX3_DL, "avx512"}, {HWY_AVX3, "avx512"}, {HWY_AVX2, "avx2"}, {HWY_SSE4, "sse4"}, {HWY_SSSE3, "ssse3"},
#elif HWY_ARCH_ARM
    {HWY_SVE2, "sve2"}, {HWY_SVE, "sve"}, {HWY_NEON, "neon"},
#endif
    {HWY_EMU128, "emu128"}, {HWY_SCALAR, "scalar"},
};

// What the CPU runs of what was compiled in, read before any target is forced.
int64_t runnable_mask() {
  static const int64_t mask = hwy::SupportedTargets() & HWY_TARGETS;
  return mask;
}

std::atomic<bool> g_avx512{false}, g_wide{false};

void refresh() {
  const int64_t t = HWY_DYNAMIC_DISPATCH(CurrentTarget)();
  g_avx512.store(t == HWY_AVX3 || t == HWY_AVX3_DL, std::memory_order_relaxed);
  g_wide.store(t == HWY_AVX3 || t == HWY_AVX3_DL || t == HWY_AVX2, std::memory_order_relaxed);
}

const bool g_init = (refresh(), true);

}  // namespace

std::vector<std::string> runnable_targets() {
  std::vector<std::string> out;
  for (const NamedTarget& t : kTargets)
    if ((runnable_mask() & t.bit) && (out.empty() || out.back() != t.name)) out.push_back(t.name);
  return out;
}

bool select_target(const std::string& name) {
  const int64_t runnable = runnable_mask();
  int64_t bit = 0;
  if (name == "best") {
    hwy::SetSupportedTargetsForTest(0);  // back to what the CPU supports
    refresh();
    return true;
  }
  if (name == "portable" || name == "lowest") {
    for (const NamedTarget& t : kTargets)
      if (runnable & t.bit) bit = t.bit;  // kTargets is best first: the last runnable one is the most portable
  } else {
    for (const NamedTarget& t : kTargets)
      if (name == t.name && (runnable & t.bit)) {
        bit = t.bit;
        break;
      }
  }
  if (!bit) return false;
  hwy::SetSupportedTargetsForTest(bit);
  refresh();
  return true;
}

const char* target_name() {
  const int64_t t = HWY_DYNAMIC_DISPATCH(CurrentTarget)();
  for (const NamedTarget& n : kTargets)
    if (n.bit == t) return n.name;
  return "unknown";
}

bool target_is_avx512() { return g_avx512.load(std::memory_order_relaxed); }
bool target_is_avx2_or_better() { return g_wide.load(std::memory_order_relaxed); }

void gemm_panels(const float* x, const uint32_t* x_pairs, int64_t M, const PackedLinear& w, const PanelEpilogue& e,
                 float* y) {
  HWY_DYNAMIC_DISPATCH(GemmPanels)(x, x_pairs, M, w, e, y);
}

void bf16_pairs(const float* x, int64_t M, int64_t K, int64_t k_stored, uint32_t* out) {
  HWY_DYNAMIC_DISPATCH(Bf16Pairs)(x, M, K, k_stored, out);
}

void activation(const float* x, float* out, int64_t n, Activation kind) {
  HWY_DYNAMIC_DISPATCH(Activations)(x, out, n, kind);
}

void layer_norm(const float* x, const float* gamma, const float* beta, float eps, int64_t R, int64_t C, float* out) {
  HWY_DYNAMIC_DISPATCH(LayerNorm)(x, gamma, beta, eps, R, C, out);
}

void rms_norm(const float* x, const float* gamma, float eps, int64_t R, int64_t C, float* out) {
  HWY_DYNAMIC_DISPATCH(RmsNorm)(x, gamma, eps, R, C, out);
}

}  // namespace jitgen::cpu::simd
#endif  // HWY_ONCE
