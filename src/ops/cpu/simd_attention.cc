// Attention over the KV cache with Highway (cpu/simd.h: simd::attention), for every SIMD target (avx512 included: it
// beat the intrinsics kernel it replaced, kernels_bench attention). Compiled once per target like cpu/simd.cc
// (foreach_target.h re-includes this file); one dynamic dispatch per call, then the (batch row, KV head) pairs in
// parallel on the pool. The math is ref::attention_qkv's: scaled dot-product scores over the causal (and
// sliding-window) range, masked keys at -inf, max-subtracted exp, the weighted sum of values divided by the sum of
// the weights. GQA: the KV head's query heads share each block of keys while it is in L1, and each value row, so K
// and V are read from memory once per group, not once per head.
#include <algorithm>
#include <limits>
#include <vector>

#include "ops/cpu/attention_common.h"
#include "ops/cpu/simd.h"
#include "runtime/thread_pool.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/simd_attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "ops/cpu/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace jitgen::cpu::simd::HWY_NAMESPACE {

// Query heads taken together per pass: the (batch row, KV head) group's heads share every key and value row, so one
// row, once in L1, serves all of them (each head its own score row in p). Bounds the score rows and the per-head
// scalars below; a larger group (MQA) runs in several passes.
constexpr int64_t kMaxGroup = 8;
// Cache rows of K and of V asked for ahead at the start of each (batch row, KV head); 64-byte lines of floats.
constexpr int64_t kPrefetchRows = 64, kLineFloats = 16;
// Output accumulators of the weighted-value pass: NV vectors of columns for GB heads, with one value row of NV vectors
// beside them, fit the register file (32 vector registers on AVX-512 and NEON, 16 on SSE / AVX2).
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_ARCH_ARM
constexpr int kValueHeads = 4;
#else
constexpr int kValueHeads = 2;
#endif

// Lane r of the result = the sum of the lanes of v[r], for kLanes vectors v (clobbered): a transposing reduction,
// kLanes keys for about 3 vector ops each instead of a lane reduction each. Within each 128-bit block, two interleave
// steps leave block k of u[i] holding that block's partial sums of keys 4i .. 4i + 3; across blocks, half-vector
// concatenation (16 lanes) and adjacent-block swaps add the blocks and put key r in lane r. Every key is summed by the
// same tree (lanes (0 + 2) + (1 + 3) in a block, blocks (0 + 2) + (1 + 3)), so its sum does not depend on its place in
// the block.
HWY_INLINE VF SumEach(DF d, VF* v) {
#if HWY_TARGET == HWY_SCALAR  // one lane: nothing to add
  (void)d;
  return v[0];
#else
  static_assert(kLanes == 4 || kLanes == 8 || kLanes == 16, "whole 128-bit blocks, at most four");
  const hn::Repartition<uint64_t, DF> d64;
  constexpr size_t kBlocks = kLanes / 4;
  VF u[4];
  for (size_t i = 0; i < kBlocks; ++i) {
    VF t[2];
    for (size_t h = 0; h < 2; ++h) {  // per block: [a0 + a2, b0 + b2, a1 + a3, b1 + b3] of the pair (a, b)
      const VF a = v[4 * i + 2 * h], b = v[4 * i + 2 * h + 1];
      t[h] = hn::Add(hn::InterleaveLower(d, a, b), hn::InterleaveUpper(d, a, b));
    }
    const auto t0 = hn::BitCast(d64, t[0]), t1 = hn::BitCast(d64, t[1]);
    u[i] = hn::Add(hn::BitCast(d, hn::InterleaveLower(d64, t0, t1)), hn::BitCast(d, hn::InterleaveUpper(d64, t0, t1)));
  }
  if constexpr (kBlocks == 1) {
    return u[0];
  } else {
    if constexpr (kBlocks == 4) {  // halves: [u0 (b0 + b2), u0 (b1 + b3), u2 (..), u2 (..)], and u1, u3 alike
      for (size_t i = 0; i < 2; ++i)
        u[i] = hn::Add(hn::ConcatLowerLower(d, u[i + 2], u[i]), hn::ConcatUpperUpper(d, u[i + 2], u[i]));
    }
    // Each block plus its neighbour; even blocks from u[0] (keys 0-3, then 8-11), odd ones from u[1].
    return hn::OddEvenBlocks(hn::Add(u[1], hn::SwapAdjacentBlocks(u[1])), hn::Add(u[0], hn::SwapAdjacentBlocks(u[0])));
  }
#endif
}

// Scaled scores of one query q against kLanes key rows, row r at rows(r) (a partial block repeats its last key):
// lane r = q . k_r * scale where keep, -inf elsewhere. Each key's dot is one FMA chain over the whole vectors of D in
// order, the SumEach tree, then the scalar tail of D (d_vec up to D), whatever the block: a row's scores do not
// depend on padding, bucket or batch neighbours.
template <class D, class Rows, class M>
HWY_INLINE VF BlockScores(D d, const float* q, const Rows& rows, int64_t dims, int64_t d_vec, M keep, VF scale,
                          VF neg_inf) {
  const int64_t N = static_cast<int64_t>(kLanes);
  VF acc[kLanes];
  for (size_t r = 0; r < kLanes; ++r) acc[r] = hn::Zero(d);
  for (int64_t i = 0; i < d_vec; i += N) {
    const VF qi = hn::LoadU(d, q + i);
    for (size_t r = 0; r < kLanes; ++r) acc[r] = hn::MulAdd(qi, hn::LoadU(d, rows(r) + i), acc[r]);
  }
  VF s = SumEach(d, acc);
  if (d_vec < dims) {  // head_dim not a whole number of vectors
    HWY_ALIGN float sums[kLanes];
    hn::Store(s, d, sums);
    for (size_t r = 0; r < kLanes; ++r)
      for (int64_t t = d_vec; t < dims; ++t) sums[r] += q[t] * rows(r)[t];
    s = hn::Load(d, sums);
  }
  return hn::IfThenElse(keep, hn::Mul(s, scale), neg_inf);
}

// One block's scores for the heads of a pass (q[g] -> p[g] + j, running maxima mx[g]). A whole block of the common
// head sizes addresses its rows as one base plus constant offsets (with 16 row pointers the K loads would wait on
// pointers spilled to the stack); other sizes and the last, partial block use a table of row pointers.
template <class D, class M>
HWY_INLINE void ScoresForHeads(D d, const float* const* q, int64_t gn, const float* kh, int64_t j, int64_t count,
                               int64_t dims, int64_t d_vec, M keep, VF scale, VF neg_inf, float* const* p, VF* mx) {
  const auto run = [&](const auto& rows) {
    for (int64_t g = 0; g < gn; ++g) {
      const VF s = BlockScores(d, q[g], rows, dims, d_vec, keep, scale, neg_inf);
      hn::StoreU(s, d, p[g] + j);
      mx[g] = hn::Max(mx[g], s);
    }
  };
  const float* k0 = kh + j * dims;
  if (count == static_cast<int64_t>(kLanes) && dims == 64) return run([k0](size_t r) { return k0 + r * 64; });
  if (count == static_cast<int64_t>(kLanes) && dims == 128) return run([k0](size_t r) { return k0 + r * 128; });
  const float* kr[kLanes];
  for (size_t r = 0; r < kLanes; ++r) kr[r] = k0 + std::min(static_cast<int64_t>(r), count - 1) * dims;
  run([&kr](size_t r) { return kr[r]; });
}

// For GB heads at once: od[g][c0, c0 + NV * N) = inv[g] * sum_j p[g][j] v_j[c0 ...] over the keys [j0, n); a key
// no head weighs (masked, or underflowed everywhere) is skipped. Each value row is loaded once for the GB heads.
template <int NV, int GB>
HWY_INLINE void WeightedValues(const float* const* p, const float* vh, int64_t D, int64_t j0, int64_t n, int64_t c0,
                               const float* inv, float* const* od) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  VF acc[GB][NV];
  for (int g = 0; g < GB; ++g)
    for (int u = 0; u < NV; ++u) acc[g][u] = hn::Zero(d);
  for (int64_t j = j0; j < n; ++j) {
    bool any = false;
    for (int g = 0; g < GB; ++g) any |= p[g][j] != 0.0f;
    if (!any) continue;
    const float* vj = vh + j * D + c0;
    VF v[NV];
    for (int u = 0; u < NV; ++u) v[u] = hn::LoadU(d, vj + u * N);
    for (int g = 0; g < GB; ++g) {
      const VF w = hn::Set(d, p[g][j]);
      for (int u = 0; u < NV; ++u) acc[g][u] = hn::MulAdd(w, v[u], acc[g][u]);
    }
  }
  for (int g = 0; g < GB; ++g) {
    const VF iv = hn::Set(d, inv[g]);
    for (int u = 0; u < NV; ++u) hn::StoreU(hn::Mul(acc[g][u], iv), d, od[g] + c0 + u * N);
  }
}

template <int NV>
HWY_INLINE void WeightedValuesFor(int gb, const float* const* p, const float* vh, int64_t D, int64_t j0, int64_t n,
                                  int64_t c0, const float* inv, float* const* od) {
  static_assert(kValueHeads == 2 || kValueHeads == 4, "one case per head count below");
  switch (gb) {
    case 1: return WeightedValues<NV, 1>(p, vh, D, j0, n, c0, inv, od);
    case 2: return WeightedValues<NV, 2>(p, vh, D, j0, n, c0, inv, od);
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_ARCH_ARM
    case 3: return WeightedValues<NV, 3>(p, vh, D, j0, n, c0, inv, od);
    case 4: return WeightedValues<NV, 4>(p, vh, D, j0, n, c0, inv, od);
#endif
  }
}

void AttentionRange(const float* q_in, const float* k_in, const float* v_in, int64_t q_stride, int64_t k_stride,
                    int64_t v_stride, float* k_cache, float* v_cache, const int32_t* cache_pos, const int32_t* key_mask,
                    int64_t B, int64_t T, int64_t S, int64_t H, int64_t KV, int64_t D, int64_t window, float scale,
                    float* out, int64_t bk0, int64_t bk1) {
  const DF d;
  const hn::RebindToSigned<DF> di;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  HWY_DASSERT(N == static_cast<int64_t>(kLanes));
  const int64_t C = H * D, G = H / KV;
  // One score row per head of a pass, each S slots plus a vector of slack so that whole-vector stores past n stay
  // inside it. On the stack up to 16384 floats (8 heads of a 2000-slot cache, 3 of a 4096-slot one), so a decode
  // step allocates nothing even on a pool thread's first attention; larger ones use a per-thread buffer.
  constexpr int64_t kStackFloats = 16384;
  HWY_ALIGN float p_stack[kStackFloats];
  thread_local std::vector<float> p_heap;
  const int64_t row = S + N, need = std::min(G, kMaxGroup) * row;
  float* p_all = p_stack;
  if (need > kStackFloats) {
    if (static_cast<int64_t>(p_heap.size()) < need) p_heap.resize(need);
    p_all = p_heap.data();
  }
  const VF neg_inf = hn::Set(d, -std::numeric_limits<float>::infinity()), scale_v = hn::Set(d, scale);
  const int64_t d_vec = D / N * N;  // dims in whole vectors; the rest of D is summed per dim
  for (int64_t bk = bk0; bk < bk1; ++bk) {
    const int64_t b = bk / KV, kv = bk % KV;
    float* kh = k_cache + bk * S * D;
    float* vh = v_cache + bk * S * D;
    {
      // In decode the cache rows were evicted since the last step (the layers' weights streamed through every cache
      // level), and the score and value loops below read them a block at a time: one block's misses, then its math.
      // Asking for the first rows of K and V at once overlaps those misses; past kPrefetchRows the loops' own
      // sequential reads keep the hardware prefetcher ahead.
      const int64_t n_end = cache_pos[b] + T;
      const int64_t first = window > 0 ? std::max<int64_t>(0, n_end - window) : 0;
      const int64_t last = std::min(n_end, first + kPrefetchRows);
      for (int64_t f = first * D; f < last * D; f += kLineFloats) {
        hwy::Prefetch(kh + f);
        hwy::Prefetch(vh + f);
      }
    }
    append_kv_rows(k_in, v_in, k_stride, v_stride, b, kv, T, D, cache_pos[b], kh, vh);
    const int32_t* mask = key_mask + b * S;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t n = cache_pos[b] + t + 1;  // causal: slots [j0, n), the same for every head of the group
      int64_t j0 = window > 0 ? std::max<int64_t>(0, n - window) : 0;
      // Every pass below starts at the row's first live key, not at slot 0 (or the window's start): the exp-sum puts
      // key j in lane (j - j0) mod kLanes, and left pads would rotate those lanes. SumOfLanes is not invariant under
      // a rotation on every target (NEON's pairwise vaddv adds lanes (0 + 1) + (2 + 3); x86's butterfly happens to
      // be), so the pad count leaked into the sum's rounding and a compiled prefill (padded to its bucket) differed
      // from eager. From the first live key each key keeps its lane whatever precedes it; masked slots before it
      // weigh nothing, so skipping them changes no other sum.
      while (j0 < n && mask[j0] == 0) ++j0;
      for (int64_t h0 = kv * G; h0 < (kv + 1) * G; h0 += kMaxGroup) {
        const int64_t gn = std::min(kMaxGroup, (kv + 1) * G - h0);  // heads h0 .. h0 + gn - 1 in this pass
        const float* q[kMaxGroup];
        float* p[kMaxGroup];
        float* od[kMaxGroup];
        VF mx[kMaxGroup];
        for (int64_t g = 0; g < gn; ++g) {
          q[g] = q_in + (b * T + t) * q_stride + (h0 + g) * D;
          p[g] = p_all + g * row;
          od[g] = out + (b * T + t) * C + (h0 + g) * D;
          mx[g] = neg_inf;
        }
        // Scores, kLanes keys at a time; the block's key rows stay in L1 while every head of the pass reads them.
        for (int64_t j = j0; j < n; j += N) {
          const int64_t count = std::min(N, n - j);
          HWY_ALIGN int32_t tail[kLanes] = {};  // the last block's mask, zero-padded (never read past the row)
          const int32_t* mj = mask + j;
          if (count < N) {
            std::copy(mask + j, mask + n, tail);
            mj = tail;
          }
          const auto keep = hn::RebindMask(d, hn::Ne(hn::LoadU(di, mj), hn::Zero(di)));
          ScoresForHeads(d, q, gn, kh, j, count, D, d_vec, keep, scale_v, neg_inf, p, mx);
        }
        // exp(score - max) per head. Masked keys (-inf) and the lanes past n (not scores: never summed) enter Exp
        // as -100, below its range, and come out exactly 0. A head with every key masked (a pad query) gets zero
        // weights and a zero output.
        float inv[kMaxGroup];
        for (int64_t g = 0; g < gn; ++g) {
          const VF mxv = hn::MaxOfLanes(d, mx[g]);
          if (hn::GetLane(mxv) == -std::numeric_limits<float>::infinity()) {
            std::fill(p[g] + j0, p[g] + n, 0.0f);
            inv[g] = 0.0f;
            continue;
          }
          const VF floor = hn::Set(d, -100.0f);
          VF sv = hn::Zero(d);
          for (int64_t jj = j0; jj < n; jj += N) {
            const auto live = hn::FirstN(d, static_cast<size_t>(n - jj));
            const VF x = hn::Max(hn::IfThenElse(live, hn::Sub(hn::LoadU(d, p[g] + jj), mxv), floor), floor);
            const VF e = hn::IfThenElseZero(live, hn::Exp(d, x));
            hn::StoreU(e, d, p[g] + jj);
            sv = hn::Add(sv, e);
          }
          inv[g] = 1.0f / hn::GetLane(hn::SumOfLanes(d, sv));
        }
        // Weighted values, kValueHeads heads per pass over the value rows.
        for (int64_t g0 = 0; g0 < gn; g0 += kValueHeads) {
          const int gb = static_cast<int>(std::min<int64_t>(kValueHeads, gn - g0));
          int64_t c = 0;
          for (; c + 4 * N <= d_vec; c += 4 * N) WeightedValuesFor<4>(gb, p + g0, vh, D, j0, n, c, inv + g0, od + g0);
          for (; c < d_vec; c += N) WeightedValuesFor<1>(gb, p + g0, vh, D, j0, n, c, inv + g0, od + g0);
        }
        for (int64_t g = 0; g < gn; ++g)
          for (int64_t c = d_vec; c < D; ++c) {
            float s = 0;
            for (int64_t jj = j0; jj < n; ++jj)
              if (p[g][jj] != 0.0f) s += p[g][jj] * vh[jj * D + c];
            od[g][c] = s * inv[g];
          }
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
