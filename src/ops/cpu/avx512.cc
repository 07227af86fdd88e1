#include "ops/cpu/avx512.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>

namespace jitgen::cpu::avx512 {

namespace {

// exp(x) in fp32, Cephes polynomial (max rel. error ~2 ulp); 0 below -87.3 (where expf underflows to
// denormals), so masked scores become exact zeros.
inline __m512 exp_ps(__m512 x) {
  const __m512 hi = _mm512_set1_ps(88.3762626647949f);
  const __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_LT_OQ);
  x = _mm512_min_ps(x, hi);
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
  const __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 y = _mm512_set1_ps(1.9875691500E-4f);
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507E-3f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073E-3f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894E-2f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459E-1f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201E-1f));
  y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~tiny), _mm512_scalef_ps(y, fx));
}

// tanh(u) = 1 - 2 / (exp(2u) + 1): saturates to +-1 correctly; absolute error ~1e-7.
inline __m512 tanh_ps(__m512 u) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 e = exp_ps(_mm512_add_ps(u, u));
  return _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
}

inline __m512 act_ps(__m512 v, Activation kind) {
  switch (kind) {
    case Activation::kGeluTanh: {  // HF gelu_new
      const __m512 inner = _mm512_mul_ps(
          _mm512_set1_ps(0.7978845608028654f),
          _mm512_fmadd_ps(_mm512_mul_ps(_mm512_mul_ps(v, v), v), _mm512_set1_ps(0.044715f), v));
      return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), _mm512_add_ps(_mm512_set1_ps(1.0f), tanh_ps(inner)));
    }
    case Activation::kRelu:
      return _mm512_max_ps(v, _mm512_setzero_ps());
    case Activation::kSilu:
      return _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), v))));
    case Activation::kGeluErf:
      break;  // scalar erf, handled by the caller
  }
  return v;
}

inline __mmask16 tail_mask(int64_t n) {
  return n >= 16 ? 0xFFFF : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1);
}

// Bias, activation and residual on an MR x 32 tile of accumulators, then the store (tails masked).
template <int MR>
inline void store_tile(__m512 (&acc)[MR][2], const Epilogue& e, float* y, int64_t N, int64_t n0, int64_t ncols) {
  const __mmask16 mk0 = tail_mask(ncols), mk1 = tail_mask(ncols - 16);
  const bool post_act = e.has_act && e.act == Activation::kGeluErf;  // scalar erf after the tiles
  const bool vec_act = e.has_act && !post_act;
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m)
    for (int h = 0; h < 2; ++h) {
      const __mmask16 mk = h ? mk1 : mk0;
      if (!mk) continue;
      const int64_t col = n0 + 16 * h;
      __m512 v = acc[m][h];
      if (e.bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, e.bias + col));
      if (vec_act) v = act_ps(v, e.act);
      if (e.residual && !post_act) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, e.residual + m * N + col));
      _mm512_mask_storeu_ps(y + m * N + col, mk, v);
    }
}

// One MR x 32 output tile of fp32 panels over the whole K. Every output is one chain of FMAs in k order from zero,
// whatever MR (as the Highway tiles, cpu/simd.cc Tile): a row's outputs do not depend on the rows batched beside it,
// so continuous batching leaves a request's tokens as they are alone. (Two accumulator sets, even / odd k, for
// MR < 4 hid more FMA latency but gave a row other bits in a tile of 4 or more.)
template <int MR>
void tile_f32(const float* x, int64_t xs, int64_t K, const float* panel, const Epilogue& e, float* y, int64_t N,
              int64_t n0, int64_t ncols) {
  __m512 acc[MR][2];
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const __m512 w0 = _mm512_load_ps(panel + k * kPanel), w1 = _mm512_load_ps(panel + k * kPanel + 16);
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) {
      const __m512 xv = _mm512_set1_ps(x[m * xs + k]);
      acc[m][0] = _mm512_fmadd_ps(xv, w0, acc[m][0]);
      acc[m][1] = _mm512_fmadd_ps(xv, w1, acc[m][1]);
    }
  }
  store_tile<MR>(acc, e, y, N, n0, ncols);
}

// The same tile over bf16 panels. xp: the rows of x rounded to bf16, as k pairs (one 32-bit word per pair, row
// stride Kq). With AVX512_BF16 (tile_bf16_dot) one vdpbf16ps multiplies a k pair of 16 columns and accumulates in fp32;
// without it (tile_bf16_widen) the pair is widened (shift / mask) and takes two FMAs -- the same products.
__attribute__((target("avx512bf16"))) inline __m512 dot(__m512 acc, __m512i x, __m512i w) {
  return _mm512_dpbf16_ps(acc, (__m512bh)x, (__m512bh)w);
}

template <int MR>
__attribute__((target("avx512bf16"))) void tile_bf16_dot(const uint32_t* xp, int64_t ps, int64_t Kq,
                                                          const uint16_t* panel, const Epilogue& e, float* y,
                                                          int64_t N, int64_t n0, int64_t ncols) {
  __m512 acc[MR][2];
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
  for (int64_t q = 0; q < Kq; ++q) {
    const __m512i w0 = _mm512_load_si512(panel + q * 64), w1 = _mm512_load_si512(panel + q * 64 + 32);
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) {
      const __m512i xv = _mm512_set1_epi32(static_cast<int>(xp[m * ps + q]));
      acc[m][0] = dot(acc[m][0], xv, w0);
      acc[m][1] = dot(acc[m][1], xv, w1);
    }
  }
  store_tile<MR>(acc, e, y, N, n0, ncols);
}

template <int MR>
void tile_bf16_widen(const uint32_t* xp, int64_t ps, int64_t Kq, const uint16_t* panel, const Epilogue& e, float* y,
                     int64_t N, int64_t n0, int64_t ncols) {
  __m512 acc[MR][2];
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
  const __m512i hi = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (int64_t q = 0; q < Kq; ++q) {
    __m512 even[2], odd[2];
    for (int h = 0; h < 2; ++h) {
      const __m512i v = _mm512_load_si512(panel + q * 64 + 32 * h);
      even[h] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
      odd[h] = _mm512_castsi512_ps(_mm512_and_si512(v, hi));
    }
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) {
      const uint32_t pair = xp[m * ps + q];
      const __m512 xe = _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(pair << 16)));
      const __m512 xo = _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(pair & 0xFFFF0000u)));
      for (int h = 0; h < 2; ++h) acc[m][h] = _mm512_fmadd_ps(xo, odd[h], _mm512_fmadd_ps(xe, even[h], acc[m][h]));
    }
  }
  store_tile<MR>(acc, e, y, N, n0, ncols);
}

std::atomic<bool> g_bf16_dot{__builtin_cpu_supports("avx512bf16") != 0};

template <bool kBf16>
void gemm_panels_t(const float* x, int64_t xs, const uint32_t* xp, int64_t ps, int64_t M, const PackedLinear& w,
                   const Epilogue& e, float* y, int64_t p0, int64_t p1) {
  const int64_t K = w.K, N = w.N, K2 = w.k_stored(), Kq = K2 / 2;
  constexpr int kMR = 12;
  const bool dot = kBf16 && g_bf16_dot.load(std::memory_order_relaxed);
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t n0 = p * kPanel, ncols = std::min<int64_t>(kPanel, N - n0);
    for (int64_t m0 = 0; m0 < M; m0 += kMR) {
      const int mr = static_cast<int>(std::min<int64_t>(kMR, M - m0));
      float* ym = y + m0 * N;
      Epilogue em = e;
      if (em.residual) em.residual += m0 * N;
      if constexpr (kBf16) {
        const uint16_t* panel = w.bf16() + p * K2 * kPanel;
        const uint32_t* xm = xp + m0 * ps;
        switch (mr) {
#define JITGEN_TILE(R)                                              \
  case R:                                                           \
    if (dot) tile_bf16_dot<R>(xm, ps, Kq, panel, em, ym, N, n0, ncols);      \
    else tile_bf16_widen<R>(xm, ps, Kq, panel, em, ym, N, n0, ncols); \
    break;
          JITGEN_TILE(1) JITGEN_TILE(2) JITGEN_TILE(3) JITGEN_TILE(4) JITGEN_TILE(5) JITGEN_TILE(6)
          JITGEN_TILE(7) JITGEN_TILE(8) JITGEN_TILE(9) JITGEN_TILE(10) JITGEN_TILE(11) JITGEN_TILE(12)
#undef JITGEN_TILE
        }
      } else {
        const float* panel = w.f32() + p * K * kPanel;
        const float* xm = x + m0 * xs;
        switch (mr) {
#define JITGEN_TILE(R) \
  case R: tile_f32<R>(xm, xs, K, panel, em, ym, N, n0, ncols); break;
          JITGEN_TILE(1) JITGEN_TILE(2) JITGEN_TILE(3) JITGEN_TILE(4) JITGEN_TILE(5) JITGEN_TILE(6)
          JITGEN_TILE(7) JITGEN_TILE(8) JITGEN_TILE(9) JITGEN_TILE(10) JITGEN_TILE(11) JITGEN_TILE(12)
#undef JITGEN_TILE
        }
      }
    }
  }
  if (e.has_act && e.act == Activation::kGeluErf) {  // rare for GPT-2: erf GELU, then the residual
    const int64_t c0 = p0 * kPanel, c1 = std::min(N, p1 * kPanel);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t c = c0; c < c1; ++c) {
        const float a = y[m * N + c];
        y[m * N + c] = 0.5f * a * (1.0f + std::erf(a * 0.7071067811865476f)) + (e.residual ? e.residual[m * N + c] : 0.0f);
      }
  }
}

}  // namespace

bool bf16_dot() { return g_bf16_dot.load(std::memory_order_relaxed); }
void set_bf16_dot(bool allow) { g_bf16_dot.store(allow && __builtin_cpu_supports("avx512bf16")); }

void gemm_panels(const float* x, int64_t x_stride, const uint32_t* x_pairs, int64_t pairs_stride, int64_t M,
                 const PackedLinear& w, const Epilogue& e, float* y, int64_t p0, int64_t p1) {
  if (w.storage == WeightStorage::kBF16)
    gemm_panels_t<true>(x, x_stride, x_pairs, pairs_stride, M, w, e, y, p0, p1);
  else
    gemm_panels_t<false>(x, x_stride, nullptr, 0, M, w, e, y, p0, p1);
}

void bf16_pairs(const float* x, int64_t M, int64_t K, int64_t k_stored, uint32_t* out, int64_t out_stride) {
  // A bf16 array of a row, read as 32-bit words, is its k pairs (low half = even k): a plain rounding pass.
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  const __m512i half = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), quiet = _mm512_set1_epi32(0x400000);
  for (int64_t m = 0; m < M; ++m) {
    const float* row = x + m * K;
    uint16_t* dst = reinterpret_cast<uint16_t*>(out + m * out_stride);
    for (int64_t k = 0; k < K; k += 16) {
      const __mmask16 mk = tail_mask(K - k);
      const __m512i bits = _mm512_castps_si512(_mm512_maskz_loadu_ps(mk, row + k));
      const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, abs_mask), inf);
      __m512i r = _mm512_add_epi32(bits, _mm512_add_epi32(half, _mm512_and_si512(_mm512_srli_epi32(bits, 16), one)));
      r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(bits, quiet));
      _mm256_mask_storeu_epi16(dst + k, mk, _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
    }
    if (k_stored > K) dst[K] = 0;
  }
}

void activation(const float* x, float* y, int64_t n, Activation kind) {
  if (kind == Activation::kGeluErf) {
    for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.7071067811865476f));
    return;
  }
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 mk = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, mk, act_ps(_mm512_maskz_loadu_ps(mk, x + i), kind));
  }
}

}  // namespace jitgen::cpu::avx512
