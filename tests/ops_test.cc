// Every CPU kernel against the scalar reference (ops/reference.h), on odd shapes, on every SIMD target this
// CPU can run (cpu::simd_targets(): avx512 with its intrinsics, avx2, sse4, ..., down to the portable one), through
// both linear paths (prepared panels in fp32 and bf16, and BLAS), with a tolerance each. Which targets exist
// depends on the machine; what each asserts does not.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

#include "core/memory.h"
#include "ops/cpu/avx512.h"
#include "ops/cpu/simd.h"
#include "ops/cpu_kernels.h"
#include "ops/prepared_weights.h"
#include "ops/reference.h"
#include "runtime/roofline.h"
#include "runtime/thread_pool.h"
#include "test_support.h"

namespace jitgen {
namespace {

using test::randn;

Tensor to_tensor(const std::vector<float>& v, Shape s) {
  Tensor t = Tensor::zeros(std::move(s));
  std::copy(v.begin(), v.end(), t.f32());
  return t;
}

// Largest |a - b| relative to max(1, |b|).
float max_rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float e = 0;
  for (size_t i = 0; i < a.size(); ++i) e = std::max(e, std::abs(a[i] - b[i]) / std::max(1.0f, std::abs(b[i])));
  return e;
}

// Selects a SIMD target for one test and restores the global kernel settings the test changes.
struct SimdScope {
  explicit SimdScope(const std::string& target) { EXPECT_TRUE(cpu::set_simd(target)) << target; }
  ~SimdScope() {
    cpu::set_simd(previous);
    cpu::set_panel_max_m(panel_max_m);
    cpu::avx512::set_bf16_dot(true);
  }
  const std::string previous = cpu::simd_name();
  const int64_t panel_max_m = cpu::panel_max_m();
};

class OpsTest : public ::testing::TestWithParam<std::string> {};  // param: the SIMD target

TEST_P(OpsTest, LayerNormMatchesReference) {
  SimdScope scope(GetParam());
  for (auto [R, C] : {std::pair<int64_t, int64_t>{1, 768}, {7, 33}, {40, 5}, {3, 1}}) {
    const auto x = randn(R * C, 1, 3.0f), g = randn(C, 2), b = randn(C, 3);
    std::vector<float> got(R * C), want(R * C);
    cpu::layer_norm(x.data(), g.data(), b.data(), 1e-5f, R, C, got.data());
    ref::layer_norm(x.data(), g.data(), b.data(), 1e-5f, R, C, want.data());
    EXPECT_LT(max_rel_err(got, want), 2e-5f) << R << "x" << C;
  }
}

TEST_P(OpsTest, ActivationsMatchReference) {
  SimdScope scope(GetParam());
  for (Activation a : {Activation::kGeluTanh, Activation::kGeluErf, Activation::kRelu, Activation::kSilu})
    for (int64_t n : {1, 15, 17, 100003}) {
      auto x = randn(n, 4, 4.0f);
      if (n > 4) x[0] = 40.0f, x[1] = -40.0f, x[2] = 0.0f, x[3] = 1e-6f;  // saturation and tiny inputs
      std::vector<float> got(n), want(n);
      cpu::activation(x.data(), got.data(), n, a);
      ref::activation(x.data(), want.data(), n, a);
      EXPECT_LT(max_rel_err(got, want), 1e-6f) << static_cast<int>(a) << " n=" << n;
    }
}

TEST_P(OpsTest, AddMatchesReference) {
  SimdScope scope(GetParam());
  const int64_t n = 200001;
  const auto a = randn(n, 5), b = randn(n, 6);
  std::vector<float> got(n), want(n);
  cpu::add(a.data(), b.data(), got.data(), n);
  ref::add(a.data(), b.data(), want.data(), n);
  EXPECT_EQ(got, want);
}

// (M, K, N): decode rows, odd sizes, a tail panel, M past the panel limit (BLAS), and K over several of the
// panels' 128-k chunks with more rows than one tile (odd K, and M over the 96-row block: cpu/simd.cc ChunkedPanel).
// Decode rows over 8 and 4 panels (the last partial): streams of unequal length in the M = 1 tile (cpu/simd.cc
// StreamTile).
const std::vector<std::tuple<int64_t, int64_t, int64_t>> kLinearShapes = {
    {1, 768, 2304}, {1, 7, 5}, {1, 45, 229}, {1, 130, 100}, {3, 33, 65}, {8, 64, 96}, {13, 31, 47}, {32, 100, 70},
    {70, 40, 33}, {200, 65, 130}, {9, 301, 70}, {16, 301, 40}, {100, 257, 40}};

TEST_P(OpsTest, LinearUnpreparedMatchesReference) {
  SimdScope scope(GetParam());
  for (auto [M, K, N] : kLinearShapes) {
    const auto x = randn(M * K, 7), w = randn(K * N, 8, 0.1f), bias = randn(N, 9), res = randn(M * N, 10);
    std::vector<float> got(M * N), want(M * N);
    cpu::linear(x.data(), w.data(), bias.data(), M, K, N, got.data());
    ref::linear(x.data(), w.data(), bias.data(), M, K, N, want.data());
    EXPECT_LT(max_rel_err(got, want), 1e-5f) << M << "x" << K << "x" << N;
  }
}

// The prepared panels, fp32 and bf16, with every epilogue (bias, GELU, residual) against the reference
// (for bf16: the reference on bf16-rounded weights and activations, so only the summation order differs), bf16
// both through AVX512_BF16's dot product and widened to fp32 FMAs.
TEST_P(OpsTest, LinearPreparedMatchesReference) {
  SimdScope scope(GetParam());
  struct Mode {
    cpu::WeightStorage storage;
    bool dot;
    int64_t panel_max_m = std::numeric_limits<int64_t>::max();
  };
  // fp32 twice: panels at every M (the AVX-512 default), and BLAS past 8 rows (the portable path past 64).
  for (const Mode mode : {Mode{cpu::WeightStorage::kF32, false, 8}, Mode{cpu::WeightStorage::kF32, false},
                          Mode{cpu::WeightStorage::kBF16, false}, Mode{cpu::WeightStorage::kBF16, true}}) {
    const auto storage = mode.storage;
    cpu::avx512::set_bf16_dot(mode.dot);
    cpu::set_panel_max_m(mode.panel_max_m);
    for (bool transposed : {false, true})
      for (auto [M, K, N] : kLinearShapes) {
        const auto x = randn(M * K, 11), bias = randn(N, 13), res = randn(M * N, 14);
        auto w = randn(K * N, 12, 0.1f);  // [K, N], or [N, K] when transposed
        const Tensor wt = to_tensor(w, transposed ? Shape{N, K} : Shape{K, N});
        cpu::PreparedWeights prepared(storage);
        prepared.add(wt, transposed);
        ASSERT_NE(cpu::find_packed(wt.f32(), K, N), nullptr);
        std::vector<float> wr = w, xr = x;
        if (storage == cpu::WeightStorage::kBF16) {
          for (auto& v : wr) v = bf16_to_f32(f32_to_bf16(v));
          for (auto& v : xr) v = bf16_to_f32(f32_to_bf16(v));
        }
        std::vector<float> got(M * N), want(M * N);
        if (transposed) {
          cpu::linear_transposed(x.data(), wt.f32(), M, K, N, got.data());
          ref::linear_transposed(xr.data(), wr.data(), M, K, N, want.data());
        } else {
          cpu::linear(x.data(), wt.f32(), bias.data(), M, K, N, got.data(),
                      {true, Activation::kGeluTanh, res.data()});
          ref::linear(xr.data(), wr.data(), bias.data(), M, K, N, want.data());
          ref::activation(want.data(), want.data(), M * N, Activation::kGeluTanh);
          for (int64_t i = 0; i < M * N; ++i) want[i] += res[i];
        }
        EXPECT_LT(max_rel_err(got, want), 2e-5f) << cpu::weight_storage_name(storage) << (mode.dot ? " dot" : "")
                                                 << " panel_max_m " << mode.panel_max_m
                                                 << (transposed ? " T " : " ") << M << "x" << K << "x" << N;
      }
  }
  EXPECT_EQ(cpu::find_packed(nullptr, 1, 1), nullptr);
}

// A decode row's outputs do not depend on the thread count: each thread takes a range of panels, and the M = 1 tile
// splits its range into streams (cpu/simd.cc StreamTile) whose lengths change with the range; every output must
// still come out of the same arithmetic, so a server's replies do not change with JITGEN_NUM_THREADS.
TEST_P(OpsTest, DecodeRowIsIndependentOfThreadCount) {
  SimdScope scope(GetParam());
  const int threads = runtime::num_threads();
  for (auto storage : {cpu::WeightStorage::kF32, cpu::WeightStorage::kBF16})
    for (int64_t N : {229, 32 * 13 + 7, 2304}) {
      const int64_t K = 96;
      const auto x = randn(K, 15), bias = randn(N, 16);
      const Tensor wt = to_tensor(randn(K * N, 17, 0.1f), Shape{K, N});
      cpu::PreparedWeights prepared(storage);
      prepared.add(wt, false);
      std::vector<float> first;
      for (int t : {1, 2, 3, 5, 8}) {
        runtime::set_num_threads(t);
        std::vector<float> got(N);
        cpu::linear(x.data(), wt.f32(), bias.data(), 1, K, N, got.data());
        if (first.empty())
          first = got;
        else
          EXPECT_EQ(0, std::memcmp(got.data(), first.data(), N * sizeof(float)))
              << cpu::weight_storage_name(storage) << " N=" << N << " threads " << t;
      }
    }
  runtime::set_num_threads(threads);
}

// Row r of an M-row linear is bit for bit the 1-row linear of that row, at every M the panels take (every M on avx512
// and avx2; up to panel_max_m() on the narrower targets, whose fp32 linears hand larger M to BLAS): each output is one
// FMA chain in k order whatever tile the row falls in (cpu/simd.cc Tile, StreamTile, ChunkTile; cpu/avx512.cc). A
// server's decode step computes every slot's row at once, so a request's tokens must not depend on how many rows are
// beside it (a 1-row remainder tile summing even and odd k apart gave other bits at M = 4, 7, 13, ...).
TEST_P(OpsTest, LinearRowIsIndependentOfTheRowsBesideIt) {
  SimdScope scope(GetParam());
  const int64_t max_m = GetParam() == "avx512" || GetParam() == "avx2" ? 200 : std::min<int64_t>(64, cpu::panel_max_m());
  for (auto storage : {cpu::WeightStorage::kF32, cpu::WeightStorage::kBF16})
    for (const int64_t K : {int64_t{96}, int64_t{301}}) {
      const int64_t N = 32 * 5 + 9;  // a partial last panel
      const auto bias = randn(N, 16);
      const Tensor wt = to_tensor(randn(K * N, 17, 0.1f), Shape{K, N});
      cpu::PreparedWeights prepared(storage);
      prepared.add(wt, false);
      // Every remainder of the row tiles (3, 2 and 12 rows), bf16's chunked tiles (M > 12), row blocks of 96.
      for (const int64_t M : {2, 3, 4, 5, 6, 7, 8, 13, 14, 16, 25, 64, 97, 131, 200}) {
        if (M > max_m) continue;
        const auto x = randn(M * K, 15 + M);
        std::vector<float> all(M * N), one(N);
        cpu::linear(x.data(), wt.f32(), bias.data(), M, K, N, all.data());
        for (int64_t r = 0; r < M; ++r) {
          cpu::linear(x.data() + r * K, wt.f32(), bias.data(), 1, K, N, one.data());
          ASSERT_EQ(0, std::memcmp(one.data(), all.data() + r * N, N * sizeof(float)))
              << cpu::weight_storage_name(storage) << " K=" << K << " M=" << M << " row " << r;
        }
      }
    }
}

// The activation operand of bf16 panels: every value rounded exactly as the scalar f32_to_bf16 (ties to even,
// NaN stays NaN, infinities and the largest finite values) and paired k by k, odd K padded with a zero.
TEST_P(OpsTest, Bf16PairsRoundLikeTheScalarConversionAndPadOddK) {
  SimdScope scope(GetParam());
  std::vector<float> x = randn(3 * 37, 21);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::max(),
                            1.0f + 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-23f, 1.0f + 3 * 0x1p-8f, -0.0f, 0x1p-140f};
  for (size_t i = 0; i < std::size(specials); ++i) x[5 * i + 1] = specials[i];
  for (const int64_t K : {int64_t{37}, int64_t{36}}) {
    const int64_t M = static_cast<int64_t>(x.size()) / K, k_stored = (K + 1) / 2 * 2;
    // avx512's rows go to a stride the caller picks (cpu_kernels.cc spread_stride): here 5 words past the row,
    // which must stay untouched.
    int64_t stride = k_stored / 2;
#if defined(__x86_64__)
    if (GetParam() == "avx512") stride += 5;
#endif
    std::vector<uint32_t> pairs(M * stride, 0xdeadbeefu);
#if defined(__x86_64__)
    if (GetParam() == "avx512")  // the intrinsics that avx512's panels use
      cpu::avx512::bf16_pairs(x.data(), M, K, k_stored, pairs.data(), stride);
    else
#endif
      cpu::simd::bf16_pairs(x.data(), M, K, k_stored, pairs.data());
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t w = k_stored / 2; w < stride; ++w) ASSERT_EQ(pairs[m * stride + w], 0xdeadbeefu) << "row " << m;
      for (int64_t k = 0; k < k_stored; ++k) {
        const uint32_t word = pairs[m * stride + k / 2];
        const uint16_t got = static_cast<uint16_t>(k % 2 ? word >> 16 : word & 0xffffu);
        const uint16_t want = k < K ? f32_to_bf16(x[m * K + k]) : 0;
        ASSERT_EQ(got, want) << "K=" << K << " row " << m << " k " << k;
      }
    }
  }
}

TEST_P(OpsTest, AttentionMatchesReference) {
  SimdScope scope(GetParam());
  struct Case {
    int64_t B, T, S, H, D;
    int32_t pos;
  };
  for (const Case& c : {Case{1, 1, 64, 12, 64, 17}, Case{2, 5, 16, 3, 8, 0}, Case{3, 4, 20, 2, 24, 9},
                        Case{2, 1, 300, 1, 17, 250}, Case{1, 7, 7, 4, 64, 0}, Case{3, 2, 80, 2, 32, 40},
                        Case{2, 1, 40, 1, 128, 33}}) {
    const cpu::AttentionShape s{c.B, c.T, c.S, c.H, c.D};
    const int64_t C = c.H * c.D, cache = c.B * c.H * c.S * c.D;
    const auto qkv = randn(c.B * c.T * 3 * C, 20);
    const auto k0 = randn(cache, 21), v0 = randn(cache, 22);
    std::vector<int32_t> mask(c.B * c.S, 1);
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t j = 0; j < std::min<int64_t>(b, c.S); ++j) mask[b * c.S + j] = 0;  // left pads per row
    if (c.B > 1 && c.pos == 0) mask[1 * c.S + 0] = mask[1 * c.S + 1] = 0;
    // Rows at different lengths (a continuous batch): odd rows write a few slots earlier.
    std::vector<int32_t> pos(c.B);
    for (int64_t b = 0; b < c.B; ++b) pos[b] = c.pos - static_cast<int32_t>(b % 2) * std::min<int32_t>(c.pos, 3);
    std::vector<float> kg = k0, vg = v0, kw = k0, vw = v0, got(c.B * c.T * C), want(c.B * c.T * C);
    cpu::attention(qkv.data(), kg.data(), vg.data(), pos.data(), mask.data(), s, 0.125f, got.data());
    ref::attention(qkv.data(), kw.data(), vw.data(), pos.data(), mask.data(), s, 0.125f, want.data());
    EXPECT_LT(max_rel_err(got, want), 2e-5f) << c.B << " " << c.T << " " << c.S << " " << c.H << " " << c.D;
    EXPECT_EQ(kg, kw);
    EXPECT_EQ(vg, vw);
  }
}

// Row b of a batch with its own write slot computes exactly what that row computes alone: the property
// continuous batching relies on (requests at different lengths share one decode step).
TEST_P(OpsTest, AttentionRowsAreIndependentOfTheirNeighbours) {
  SimdScope scope(GetParam());
  const int64_t B = 3, T = 1, S = 40, H = 2, D = 16, C = H * D, per_row = H * S * D;
  const std::vector<int32_t> pos = {5, 31, 0};
  const cpu::AttentionShape s{B, T, S, H, D};
  const auto qkv = randn(B * T * 3 * C, 30);
  auto k = randn(B * per_row, 31), v = randn(B * per_row, 32);
  std::vector<int32_t> mask(B * S, 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 1; j <= pos[b]; ++j) mask[b * S + j] = 1;  // slot 0 masked, then the row's tokens
  for (int64_t b = 0; b < B; ++b) mask[b * S + pos[b]] = 1;
  std::vector<float> kb = k, vb = v, got(B * T * C);
  cpu::attention(qkv.data(), kb.data(), vb.data(), pos.data(), mask.data(), s, 0.25f, got.data());
  for (int64_t b = 0; b < B; ++b) {
    const cpu::AttentionShape one{1, T, S, H, D};
    std::vector<float> k1(k.begin() + b * per_row, k.begin() + (b + 1) * per_row);
    std::vector<float> v1(v.begin() + b * per_row, v.begin() + (b + 1) * per_row), out1(T * C);
    std::vector<float> q1(qkv.begin() + b * T * 3 * C, qkv.begin() + (b + 1) * T * 3 * C);
    cpu::attention(q1.data(), k1.data(), v1.data(), &pos[b], mask.data() + b * S, one, 0.25f, out1.data());
    for (int64_t i = 0; i < T * C; ++i) EXPECT_EQ(out1[i], got[b * T * C + i]) << "row " << b;
    for (int64_t i = 0; i < per_row; ++i) ASSERT_EQ(k1[i], kb[b * per_row + i]) << "row " << b;
  }
}

// A row's keys behind p masked left pads (a compiled prefill padded to its length bucket, or a row of a left-padded
// batch) give exactly what the same keys give with no pads in front: the softmax sums must not depend on where the
// first live key falls in a vector block. Eager (no pads) and compiled (bucket pads) steps rely on it.
TEST_P(OpsTest, AttentionIsIndependentOfLeftPadCount) {
  SimdScope scope(GetParam());
  const int64_t H = 3, D = 20, C = H * D, keys = 13;
  for (int64_t T : {1, 5}) {
    std::vector<float> base;
    for (int64_t pads = 0; pads <= 17; ++pads) {  // every rotation of 4, 8 and 16 lanes
      const int64_t S = pads + keys + 2;
      const cpu::AttentionShape s{1, T, S, H, D};
      const auto qkv = randn(T * 3 * C, 40);
      const auto hist = randn(H * keys * D, 41), vhist = randn(H * keys * D, 42);
      std::vector<float> k(H * S * D, 7.0f), v(H * S * D, -3.0f);  // pad slots hold junk: masked, never weighed
      for (int64_t h = 0; h < H; ++h)
        for (int64_t j = 0; j < keys - T; ++j)
          for (int64_t e = 0; e < D; ++e) {
            k[(h * S + pads + j) * D + e] = hist[(h * keys + j) * D + e];
            v[(h * S + pads + j) * D + e] = vhist[(h * keys + j) * D + e];
          }
      std::vector<int32_t> mask(S, 1);
      for (int64_t j = 0; j < pads; ++j) mask[j] = 0;
      const int32_t pos = static_cast<int32_t>(pads + keys - T);
      std::vector<float> out(T * C);
      cpu::attention(qkv.data(), k.data(), v.data(), &pos, mask.data(), s, 0.3f, out.data());
      if (pads == 0) base = out;
      for (int64_t i = 0; i < T * C; ++i) ASSERT_EQ(out[i], base[i]) << "T=" << T << " pads=" << pads << " i=" << i;
    }
  }
}

// GQA / MQA / sliding window, head sizes off the vector width, and a cache longer than the kernels' stack buffer
// (4096 slots): every target's attention against the scalar reference, and the cache rows written as the reference
// writes them.
TEST_P(OpsTest, AttentionQkvGroupsWindowsAndLongCachesMatchReference) {
  SimdScope scope(GetParam());
  struct Case {
    int64_t B, T, S, H, KV, D, window;
    int32_t pos;
  };
  for (const Case& c : {Case{2, 3, 40, 4, 2, 16, 0, 20}, Case{1, 1, 64, 6, 1, 24, 0, 50}, Case{2, 5, 23, 8, 2, 32, 5, 9},
                        Case{1, 2, 30, 3, 3, 7, 3, 11}, Case{1, 1, 5000, 2, 1, 12, 0, 4990},
                        Case{1, 1, 5000, 2, 2, 8, 700, 4500}, Case{1, 9, 9, 2, 1, 128, 0, 0}}) {
    const cpu::AttentionShape s{c.B, c.T, c.S, c.H, c.D, c.KV, c.window};
    const int64_t cache = c.B * c.KV * c.S * c.D;
    const auto q = randn(c.B * c.T * c.H * c.D, 40), k = randn(c.B * c.T * c.KV * c.D, 41);
    const auto v = randn(c.B * c.T * c.KV * c.D, 42), k0 = randn(cache, 43), v0 = randn(cache, 44);
    std::vector<int32_t> mask(c.B * c.S, 1), pos(c.B, c.pos);
    mask[0] = 0;  // a left pad in row 0
    if (c.S > 100) mask[c.pos - 7] = 0;  // a masked key inside the history
    std::vector<float> kg = k0, vg = v0, kw = k0, vw = v0, got(q.size()), want(q.size());
    const cpu::AttentionInputs in{q.data(), k.data(), v.data(), c.H * c.D, c.KV * c.D, c.KV * c.D};
    cpu::attention_qkv(in, kg.data(), vg.data(), pos.data(), mask.data(), s, 0.3f, got.data());
    ref::attention_qkv(in, kw.data(), vw.data(), pos.data(), mask.data(), s, 0.3f, want.data());
    EXPECT_LT(max_rel_err(got, want), 2e-5f) << c.H << "/" << c.KV << " D=" << c.D << " S=" << c.S << " w=" << c.window;
    EXPECT_EQ(kg, kw);
    EXPECT_EQ(vg, vw);
  }
}

TEST_P(OpsTest, RmsNormMatchesReference) {
  SimdScope scope(GetParam());
  for (auto [R, C] : {std::pair<int64_t, int64_t>{1, 768}, {7, 37}, {3, 1}, {2, 4099}, {9, 64}}) {
    const auto x = randn(R * C, 50, 3.0f), g = randn(C, 51);
    std::vector<float> got(R * C), want(R * C);
    cpu::rms_norm(x.data(), g.data(), 1e-6f, R, C, got.data());
    ref::rms_norm(x.data(), g.data(), 1e-6f, R, C, want.data());
    EXPECT_LT(max_rel_err(got, want), 2e-6f) << R << "x" << C;
  }
}

// add and mul are the references' IEEE operations lane by lane: bit-identical at any length and alignment.
TEST_P(OpsTest, AddAndMulEqualReferenceExactly) {
  SimdScope scope(GetParam());
  for (int64_t n : {1, 15, 17, 100003}) {
    const auto a = randn(n + 1, 60, 3.0f), b = randn(n + 1, 61);
    std::vector<float> got(n), want(n);
    cpu::add(a.data() + 1, b.data(), got.data(), n);  // a misaligned operand
    ref::add(a.data() + 1, b.data(), want.data(), n);
    EXPECT_EQ(got, want) << "add " << n;
    cpu::mul(a.data(), b.data() + 1, got.data(), n);
    ref::mul(a.data(), b.data() + 1, want.data(), n);
    EXPECT_EQ(got, want) << "mul " << n;
  }
}

TEST_P(OpsTest, RopeMatchesReference) {
  SimdScope scope(GetParam());
  // head dims that are not whole vectors, partial rotary, and Llama's 64 / 128
  for (auto [heads, D, rotary] : {std::tuple{3, 16, 16}, {2, 24, 12}, {4, 64, 64}, {2, 128, 32}, {1, 10, 6}}) {
    const int64_t rows = 9;
    const auto x = randn(rows * heads * D, 62, 2.0f);
    const std::vector<int32_t> pos = {0, 1, 5, 17, 2, 40, 3, 1000, 4095};
    std::vector<float> inv(rotary / 2);
    for (int i = 0; i < rotary / 2; ++i) inv[i] = 1.0f / std::pow(10000.0f, 2.0f * i / rotary);
    std::vector<float> got(x.size()), want(x.size());
    cpu::rope(x.data(), pos.data(), inv.data(), {rows, heads, D, rotary}, 1.1f, {}, got.data());
    ref::rope(x.data(), pos.data(), inv.data(), {rows, heads, D, rotary}, 1.1f, {}, want.data());
    EXPECT_LT(max_rel_err(got, want), 1e-6f) << heads << "x" << D << " rotary " << rotary;
  }
}

// The vocabulary-row kernels against plain loops: max and argmax exactly (torch.argmax: first maximum, first NaN),
// the exponentials within a few ulp of std::exp (0 at -inf, NaN kept), and the sum in its documented fixed order.
TEST_P(OpsTest, VocabRowKernels) {
  SimdScope scope(GetParam());
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t n : {1, 7, 16, 33, 50257}) {
    auto x = randn(n, 63, 4.0f);
    if (n > 7) x[3] = -inf, x[n - 2] = -inf;
    const auto first_max = [](const std::vector<float>& v) {
      int64_t best = 0;
      for (size_t i = 1; i < v.size(); ++i)
        if (v[i] > v[best]) best = static_cast<int64_t>(i);
      return best;
    };
    EXPECT_EQ(cpu::row_max(x.data(), n), *std::max_element(x.begin(), x.end())) << n;
    EXPECT_EQ(cpu::row_argmax(x.data(), n), first_max(x)) << n;
    if (n > 7) {
      x[n - 1] = x[first_max(x)];  // a tie at the very end: the first one wins
      EXPECT_EQ(cpu::row_argmax(x.data(), n), first_max(x)) << n;
      auto y = x;
      y[n / 2] = nan, y[n - 1] = nan;  // NaN: skipped by max, the first NaN is argmax
      float want = -inf;
      for (float v : y) want = v > want ? v : want;
      EXPECT_EQ(cpu::row_max(y.data(), n), want) << n;
      EXPECT_EQ(cpu::row_argmax(y.data(), n), n / 2) << n;
    }
    const std::vector<float> all_neg_inf(n, -inf);
    EXPECT_EQ(cpu::row_max(all_neg_inf.data(), n), -inf);
    EXPECT_EQ(cpu::row_argmax(all_neg_inf.data(), n), 0);

    const float m = cpu::row_max(x.data(), n);
    std::vector<float> e(n);
    const double sum = cpu::exp_shifted(x.data(), n, m, e.data());
    double partial[8] = {}, exact = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float want = std::exp(x[i] - m);
      if (std::isinf(x[i])) {
        EXPECT_EQ(e[i], 0.0f) << i;
      }
      EXPECT_LE(std::abs(e[i] - want), 4e-7f * want + 1e-37f) << n << " at " << i << ": " << x[i] - m;
      partial[i % 8] += e[i];
      exact += want;
    }
    const double fixed = ((partial[0] + partial[1]) + (partial[2] + partial[3])) +
                         ((partial[4] + partial[5]) + (partial[6] + partial[7]));
    EXPECT_EQ(sum, fixed) << n;
    EXPECT_NEAR(sum, exact, 1e-6 * exact) << n;
    if (n > 7) {
      x[5] = nan;
      cpu::exp_shifted(x.data(), n, m, e.data());
      EXPECT_TRUE(std::isnan(e[5]));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Simd, OpsTest, ::testing::ValuesIn(cpu::simd_targets()),
                         [](const auto& info) { return info.param; });

// Every target a test selects is the one that then runs, "portable" is the lowest, and an unknown name changes
// nothing.
TEST(SimdTargets, SelectingATargetRunsIt) {
  const std::vector<std::string> targets = cpu::simd_targets();
  ASSERT_FALSE(targets.empty());
  const std::string before = cpu::simd_name();
  for (const std::string& t : targets) {
    ASSERT_TRUE(cpu::set_simd(t));
    EXPECT_EQ(cpu::simd_name(), t);
  }
  ASSERT_TRUE(cpu::set_simd("portable"));
  EXPECT_EQ(cpu::simd_name(), targets.back());
  EXPECT_FALSE(cpu::set_simd("no-such-target"));
  EXPECT_EQ(cpu::simd_name(), targets.back());
  ASSERT_TRUE(cpu::set_simd("best"));
  EXPECT_EQ(cpu::simd_name(), targets.front());
  ASSERT_TRUE(cpu::set_simd(before));
}

// Zeroed, 64-byte aligned buffers of every size class; an arena's buffers lie back to back in request order (where
// core/memory.h maps them: Linux without ASan) and outlive the arena.
TEST(StreamArena, BuffersAreZeroedAlignedBackToBackAndOutliveTheArena) {
  const auto zeroed = [](const std::shared_ptr<void>& p, size_t bytes) {  // the first and last 64 KiB
    const auto* b = static_cast<const unsigned char*>(p.get());
    const auto zero = [](unsigned char c) { return c == 0; };
    const size_t n = std::min<size_t>(bytes, 1 << 16);
    return std::all_of(b, b + n, zero) && std::all_of(b + bytes - n, b + bytes, zero);
  };
  for (size_t bytes : {size_t{0}, size_t{100}, kHugeMin + 1}) {
    const std::shared_ptr<void> p = zeroed_buffer(bytes);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p.get()) % 64, 0u);
    EXPECT_TRUE(zeroed(p, std::max<size_t>(bytes, 1))) << bytes;
  }
  // The third request does not fit the first chunk's room: it starts a new chunk, and the next ones follow it there.
  const size_t sizes[] = {100, 5000, StreamArena::kChunk, 64, kHugeMin};
  std::vector<std::shared_ptr<void>> taken;
  {
    StreamArena arena;
    for (size_t bytes : sizes) {
      taken.push_back(arena.take(bytes));
      ASSERT_NE(taken.back(), nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(taken.back().get()) % 64, 0u);
      EXPECT_TRUE(zeroed(taken.back(), bytes)) << bytes;
      auto* b = static_cast<unsigned char*>(taken.back().get());
      b[0] = b[bytes - 1] = 0x5a;
    }
  }
  if (kHugeMappings) {
    const auto at = [&](int i) { return static_cast<const char*>(taken[i].get()); };
    EXPECT_EQ(at(1), at(0) + 128);  // 100 bytes rounded up to 64
    EXPECT_EQ(at(3), at(2) + sizes[2]);
    EXPECT_EQ(at(4), at(3) + 64);
  }
  for (size_t i = 0; i < taken.size(); ++i) {  // the arena is gone; its chunks live on with the buffers
    const auto* b = static_cast<const unsigned char*>(taken[i].get());
    EXPECT_EQ(b[0], 0x5a);
    EXPECT_EQ(b[sizes[i] - 1], 0x5a);
  }
}

// settle() may copy a 2 MiB block onto a fresh huge page (MADV_COLLAPSE): what was written must survive it, bytes
// not yet taken must stay zero, and settling again (blocks already covered, a block settled in part) changes nothing.
TEST(StreamArena, SettleKeepsWrittenBytesAndLeavesTheRestZeroed) {
  StreamArena arena;
  const size_t first = 3 * kHugeMin + 4096;  // ends inside a block: the next buffer continues that block
  const std::shared_ptr<void> held = arena.take(first);  // kept: the heap fallback (ASan, non-Linux) frees on release
  auto* a = static_cast<unsigned char*>(held.get());
  for (size_t i = 0; i < first; i += 4096) a[i] = static_cast<unsigned char>(1 + i / 4096 % 251);
  arena.settle();
  arena.settle();
  const std::shared_ptr<void> next = arena.take(kHugeMin);
  auto* b = static_cast<unsigned char*>(next.get());
  EXPECT_TRUE(std::all_of(b, b + kHugeMin, [](unsigned char c) { return c == 0; }));
  b[0] = b[kHugeMin - 1] = 0x5a;
  arena.settle();
  for (size_t i = 0; i < first; i += 4096) ASSERT_EQ(a[i], static_cast<unsigned char>(1 + i / 4096 % 251)) << i;
  EXPECT_EQ(b[0], 0x5a);
  EXPECT_EQ(b[kHugeMin - 1], 0x5a);
}

// What the probe reports hangs together (its speeds are benchmarks, not checked here): the read ceiling is the best of
// its stream counts, every figure was measured, and the winning count is one it tried.
TEST(Roofline, ReadProbeReportsTheBestOfItsStreamCounts) {
  const runtime::Bandwidth bw = runtime::measure_bandwidth(1, (int64_t{33} << 20) - 1);  // small: a quick run
  EXPECT_EQ(bw.read_buffer_bytes, int64_t{32} << 20);  // whole 2 MiB blocks
  EXPECT_GT(bw.triad_gbps, 0);
  EXPECT_GT(bw.read_heap_gbps, 0);
  EXPECT_GT(bw.read_cpu_gbps, 0);
  double best = 0;
  for (double g : bw.read_gbps_by_streams) {
    EXPECT_GT(g, 0);
    best = std::max(best, g);
  }
  EXPECT_EQ(bw.read_gbps, best);
  const int counts[] = {1, 2, 4, 8};
  const int* won = std::find(std::begin(counts), std::end(counts), bw.read_streams);
  ASSERT_NE(won, std::end(counts)) << bw.read_streams;
  EXPECT_EQ(bw.read_gbps_by_streams[won - counts], best);
}

// The default read buffer outgrows the last-level cache (a 256 MiB one read partly from a 480 MiB L3 and overstated
// the memory's rate by a fifth), within the memory's means.
TEST(Roofline, DefaultReadBufferIsFourTimesTheLastLevelCache) {
  const int64_t llc = runtime::last_level_cache_bytes(), bytes = runtime::default_probe_bytes();
  const int64_t memory = int64_t{sysconf(_SC_PHYS_PAGES)} * sysconf(_SC_PAGESIZE);
  EXPECT_GE(llc, 0);
  EXPECT_GE(bytes, int64_t{256} << 20);
  EXPECT_EQ(bytes, std::max(int64_t{256} << 20, std::min(4 * llc, memory / 8))) << llc << " " << memory;
}

TEST(Roofline, BytesPerTokenCountsWeightsAndCache) {
  const runtime::DecodeShape gpt2{12, 768, 3072, 50257};
  const double f32 = runtime::bytes_per_decode_step(gpt2, 4, 1, 0);
  EXPECT_NEAR(f32 / 1e6, (85.0e6 * 4 + 50257.0 * 768 * 4) / 1e6, 2.0);  // 85M linear params + lm_head
  EXPECT_LT(runtime::bytes_per_decode_step(gpt2, 2, 1, 0), 0.51 * f32);
  EXPECT_NEAR(runtime::bytes_per_decode_step(gpt2, 4, 8, 100) - f32, 2.0 * 12 * 8 * 100 * 768 * 4, 1.0);
  EXPECT_NEAR(runtime::bytes_per_token(gpt2, 4, 8, 0), f32 / 8, 1.0);
  // GQA (TinyLlama: 32 query heads, 4 KV heads of 64): K / V projections and cache are 256 wide, not 2048.
  const runtime::DecodeShape tiny{22, 2048, 5632, 32000, 256};
  const runtime::DecodeShape tiny_mha{22, 2048, 5632, 32000};
  EXPECT_NEAR(runtime::bytes_per_decode_step(tiny, 4, 8, 100) - runtime::bytes_per_decode_step(tiny, 4, 8, 0),
              2.0 * 22 * 8 * 100 * 256 * 4, 1.0);
  EXPECT_NEAR(runtime::bytes_per_decode_step(tiny_mha, 0, 1, 0) - runtime::bytes_per_decode_step(tiny, 0, 1, 0),
              22 * 2.0 * (2048 - 256) * 4, 1.0);  // only the fp32 k / v biases at 0 bytes per weight
  EXPECT_NEAR(runtime::bytes_per_decode_step(tiny_mha, 4, 1, 0) - runtime::bytes_per_decode_step(tiny, 4, 1, 0),
              22 * 2.0 * (2048 - 256) * (2048 + 1) * 4, 1.0);
  EXPECT_DOUBLE_EQ(runtime::kv_cache_read_bytes(256, 8, 100), 2.0 * 8 * 100 * 256 * 4);
}

}  // namespace
}  // namespace jitgen
