// Attention over the KV cache with Highway (cpu/simd.h: simd::attention_heads), for every SIMD target but avx512,
// which keeps its intrinsics kernel (cpu/avx512.h). Compiled once per target like cpu/simd.cc (foreach_target.h
// re-includes this file); one dynamic dispatch per call, then the (batch row, KV head) pairs in parallel on the pool.
// The math is ref::attention_qkv's: scaled dot-product scores over the causal (and sliding-window) range, masked
// keys at -inf, max-subtracted exp, the weighted sum of values divided by the sum of the weights.
#include <algorithm>
#include <limits>
#include <vector>

#include "ops/cpu/attention_common.h"
#include "ops/cpu/simd.h"
#include "runtime/thread_pool.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/simd_attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/cpu/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace jitgen::cpu::simd::HWY_NAMESPACE {

// q . k_r for NK keys at once (independent FMA chains). Each key's sum is formed by the same operations in the same
// order whatever NK is (two vector accumulators over whole vector pairs, one more vector, their lane sum, then the
// scalar tail of D), so a key's score does not depend on where it falls in a block: a row gives the same scores at
// any padding, bucket or batch neighbours.
template <int NK>
HWY_INLINE void Dots(const float* q, const float* const* k, int64_t D, float* out) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  VF a[NK], b[NK];
  for (int r = 0; r < NK; ++r) a[r] = b[r] = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * N <= D; i += 2 * N) {
    const VF q0 = hn::LoadU(d, q + i), q1 = hn::LoadU(d, q + i + N);
    for (int r = 0; r < NK; ++r) {
      a[r] = hn::MulAdd(q0, hn::LoadU(d, k[r] + i), a[r]);
      b[r] = hn::MulAdd(q1, hn::LoadU(d, k[r] + i + N), b[r]);
    }
  }
  if (i + N <= D) {
    const VF q0 = hn::LoadU(d, q + i);
    for (int r = 0; r < NK; ++r) a[r] = hn::MulAdd(q0, hn::LoadU(d, k[r] + i), a[r]);
    i += N;
  }
  for (int r = 0; r < NK; ++r) {
    float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(a[r], b[r])));
    for (int64_t t = i; t < D; ++t) s += q[t] * k[r][t];
    out[r] = s;
  }
}

// od[c0, c0 + NV * N) = inv * sum_j p[j] v_j[c0 ...] over the keys [j0, n) whose weight is not zero (masked keys).
template <int NV>
HWY_INLINE void WeightedValues(const float* p, const float* vh, int64_t D, int64_t j0, int64_t n, int64_t c0, float inv,
                               float* od) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  VF acc[NV];
  for (int u = 0; u < NV; ++u) acc[u] = hn::Zero(d);
  for (int64_t j = j0; j < n; ++j) {
    if (p[j] == 0.0f) continue;  // masked (or underflowed) keys add nothing
    const VF w = hn::Set(d, p[j]);
    const float* vj = vh + j * D + c0;
    for (int u = 0; u < NV; ++u) acc[u] = hn::MulAdd(w, hn::LoadU(d, vj + u * N), acc[u]);
  }
  const VF iv = hn::Set(d, inv);
  for (int u = 0; u < NV; ++u) hn::StoreU(hn::Mul(acc[u], iv), d, od + c0 + u * N);
}

void AttentionRange(const float* q_in, const float* k_in, const float* v_in, int64_t q_stride, int64_t k_stride,
                    int64_t v_stride, float* k_cache, float* v_cache, const int32_t* cache_pos, const int32_t* key_mask,
                    int64_t B, int64_t T, int64_t S, int64_t H, int64_t KV, int64_t D, int64_t window, float scale,
                    float* out, int64_t bk0, int64_t bk1) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t C = H * D, G = H / KV;
  // Scores live on the stack for caches up to 4096 slots, so a decode step allocates nothing even on a pool thread's
  // first attention; longer caches use a per-thread buffer. The slack past S lets the exp loop store whole vectors.
  constexpr int64_t kStackSlots = 4096, kSlack = 64;
  static_assert(kSlack >= static_cast<int64_t>(hn::MaxLanes(DF())), "one vector of slack");
  HWY_ALIGN float p_stack[kStackSlots + kSlack];
  thread_local std::vector<float> p_heap;
  float* p = p_stack;
  if (S > kStackSlots) {
    if (static_cast<int64_t>(p_heap.size()) < S + kSlack) p_heap.resize(S + kSlack);
    p = p_heap.data();
  }
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const int64_t d_vec = D / N * N;  // dims in whole vectors; the rest of D is summed per dim
  for (int64_t bk = bk0; bk < bk1; ++bk) {
    const int64_t b = bk / KV, kv = bk % KV;
    float* kh = k_cache + bk * S * D;
    float* vh = v_cache + bk * S * D;
    append_kv_rows(k_in, v_in, k_stride, v_stride, b, kv, T, D, cache_pos[b], kh, vh);
    const int32_t* mask = key_mask + b * S;
    // The KV head's G query heads one after another: its keys and values stay in cache for the group.
    for (int64_t h = kv * G; h < (kv + 1) * G; ++h)
      for (int64_t t = 0; t < T; ++t) {
        const float* q = q_in + (b * T + t) * q_stride + h * D;
        const int64_t n = cache_pos[b] + t + 1;  // causal: slots [j0, n)
        const int64_t j0 = window > 0 ? std::max<int64_t>(0, n - window) : 0;
        float mx = neg_inf;
        int64_t j = j0;
        for (; j + 4 <= n; j += 4) {
          const float* kr[4] = {kh + j * D, kh + (j + 1) * D, kh + (j + 2) * D, kh + (j + 3) * D};
          float sc[4];
          Dots<4>(q, kr, D, sc);
          for (int r = 0; r < 4; ++r) {
            p[j + r] = mask[j + r] ? sc[r] * scale : neg_inf;
            mx = std::max(mx, p[j + r]);
          }
        }
        for (; j < n; ++j) {
          const float* kr[1] = {kh + j * D};
          float sc;
          Dots<1>(q, kr, D, &sc);
          p[j] = mask[j] ? sc * scale : neg_inf;
          mx = std::max(mx, p[j]);
        }
        float* od = out + (b * T + t) * C + h * D;
        if (mx == neg_inf) {  // a pad query: nothing to attend
          std::fill(od, od + D, 0.0f);
          continue;
        }
        // exp(score - max). Masked keys (-inf) and the lanes past n (not scores: never summed) enter Exp as -100,
        // below its range, and come out exactly 0.
        const VF mxv = hn::Set(d, mx), floor = hn::Set(d, -100.0f);
        VF sv = hn::Zero(d);
        for (int64_t jj = j0; jj < n; jj += N) {
          const auto live = hn::FirstN(d, static_cast<size_t>(n - jj));
          const VF x = hn::Max(hn::IfThenElse(live, hn::Sub(hn::LoadU(d, p + jj), mxv), floor), floor);
          const VF e = hn::IfThenElseZero(live, hn::Exp(d, x));
          hn::StoreU(e, d, p + jj);
          sv = hn::Add(sv, e);
        }
        const float inv = 1.0f / hn::GetLane(hn::SumOfLanes(d, sv));
        int64_t c = 0;
        for (; c + 4 * N <= d_vec; c += 4 * N) WeightedValues<4>(p, vh, D, j0, n, c, inv, od);
        for (; c < d_vec; c += N) WeightedValues<1>(p, vh, D, j0, n, c, inv, od);
        for (; c < D; ++c) {
          float s = 0;
          for (int64_t jj = j0; jj < n; ++jj)
            if (p[jj] != 0.0f) s += p[jj] * vh[jj * D + c];
          od[c] = s * inv;
        }
      }
  }
}

void Attention(const float* q, const float* k, const float* v, int64_t q_stride, int64_t k_stride, int64_t v_stride,
               float* k_cache, float* v_cache, const int32_t* cache_pos, const int32_t* key_mask, int64_t B, int64_t T,
               int64_t S, int64_t H, int64_t KV, int64_t D, int64_t window, float scale, float* out) {
  runtime::parallel_for(B * KV, 1, [&](int64_t bk0, int64_t bk1) {
    AttentionRange(q, k, v, q_stride, k_stride, v_stride, k_cache, v_cache, cache_pos, key_mask, B, T, S, H, KV, D,
                   window, scale, out, bk0, bk1);
  });
}

}  // namespace jitgen::cpu::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace jitgen::cpu::simd {

HWY_EXPORT(Attention);

void attention(const AttentionInputs& in, float* k_cache, float* v_cache, const int32_t* cache_pos,
               const int32_t* key_mask, const AttentionShape& s, float scale, float* out) {
  HWY_DYNAMIC_DISPATCH(Attention)(in.q, in.k, in.v, in.q_stride, in.k_stride, in.v_stride, k_cache, v_cache, cache_pos,
                                  key_mask, s.B, s.T, s.S, s.H, s.kv(), s.D, s.window, scale, out);
}

}  // namespace jitgen::cpu::simd
#endif  // HWY_ONCE
