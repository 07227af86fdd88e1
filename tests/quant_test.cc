// Weight-only quantization (ops/quant.h): every kernel path this CPU can run (amx, vnni, avxvnni, avx2, portable; the lower ones
// forced) against the scalar oracle ref::quant_linear at odd shapes (K not a multiple of the group, N odd, M 1..33),
// every format; quantize / dequantize and activation round-trip bounds; the epilogue; format names and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/memory.h"
#include "jitgen/error.h"
#include "ops/cpu/quant_kernels.h"
#include "ops/cpu_kernels.h"
#include "ops/prepared_weights.h"
#include "ops/quant.h"
#include "ops/reference.h"
#include "runtime/thread_pool.h"
#include "test_support.h"
#include "quant_specs.h"

namespace jitgen {
namespace {

using cpu::QuantPath;
using cpu::QuantSpec;

using test::randn;

// Every format the CPU quantizes to (tests/quant_specs.h; tests/cuda_kernels_test.cc runs the same list).
std::vector<QuantSpec> all_specs() { return test::all_quant_specs(); }

std::vector<QuantPath> runnable_paths() { return cpu::quant_paths_runnable(); }

struct PathScope {
  explicit PathScope(QuantPath p) { cpu::set_quant_path(p); }
  ~PathScope() { cpu::set_quant_path(QuantPath::kAmx); }
};

// quant_linear of x [M, K] on `path` into y, which starts as `y` (zeros if empty); with residual_in_place the epilogue
// adds y's incoming values (a residual aliasing the output, as the model's steps pass it).
std::vector<float> linear_on(QuantPath path, const std::vector<float>& x, int64_t M, const cpu::QuantLinear& w,
                             const std::vector<float>& bias, cpu::LinearEpilogue e = {}, std::vector<float> y = {},
                             bool residual_in_place = false) {
  PathScope scope(path);
  y.resize(static_cast<size_t>(M * w.N));
  if (residual_in_place) e.residual = y.data();
  cpu::quant_linear(x.data(), M, w, bias.data(), e, y.data());
  return y;
}

// Kernel and oracle do the same integer sums; only the fp32 accumulation over groups rounds differently
// (FMA or not), so the gap is a few ulps of the largest output.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  float scale = 1e-3f;
  for (float v : want) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 4e-6f * scale) << what << " at " << i;
}

TEST(Quant, EveryPathMatchesTheOracleAtOddShapes) {
  struct Shape {
    int64_t K, N;
  };
  const Shape shapes[] = {{37, 33}, {160, 65}, {129, 31}, {300, 47}, {4, 1}};
  const int64_t Ms[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 32, 33};
  uint32_t seed = 1;
  for (const QuantSpec& spec : all_specs())
    for (const Shape& s : shapes)
      for (bool transposed : {false, true}) {
        const std::vector<float> w = randn(static_cast<size_t>(s.K * s.N), seed++, 0.05f);
        const cpu::QuantMatrix qm = cpu::quantize(w.data(), transposed, s.K, s.N, spec);
        const cpu::QuantLinear packed = cpu::pack_quant(qm);
        const std::vector<float> bias = randn(static_cast<size_t>(s.N), seed++);
        for (int64_t M : Ms) {
          const std::vector<float> x = randn(static_cast<size_t>(M * s.K), seed++);
          std::vector<float> want(static_cast<size_t>(M * s.N));
          ref::quant_linear(x.data(), M, qm, bias.data(), want.data());
          for (QuantPath path : runnable_paths()) {
            PathScope scope(path);
            std::vector<float> got(want.size(), -1.0f);
            cpu::quant_linear(x.data(), M, packed, bias.data(), {}, got.data());
            expect_close(got, want,
                         spec.name() + " " + cpu::quant_path_name(path) + " K=" + std::to_string(s.K) +
                             " N=" + std::to_string(s.N) + " M=" + std::to_string(M) + (transposed ? " (N,K)" : " (K,N)"));
          }
        }
      }
}

// An int4 matrix with one group per output channel, as a GPTQ checkpoint with group_size -1 gives it
// (models/quantized_checkpoint.cc; quantize() makes no int4 per-channel format): random codes, bf16 scales, zero
// points 8 (symmetric) or random.
cpu::QuantMatrix int4_per_channel(int64_t K, int64_t N, bool zero_point, uint32_t seed) {
  cpu::QuantMatrix m;
  m.spec = QuantSpec{4, 0, false, zero_point};
  m.K = K, m.N = N, m.G = (K + 3) / 4 * 4, m.groups = 1;
  const std::vector<float> r = randn(static_cast<size_t>(N * (m.G + 2)), seed);
  auto uniform = [&](size_t i, int levels) { return static_cast<int>(std::fabs(r[i]) * 1000) % levels; };
  m.scale.resize(static_cast<size_t>(N));
  m.zero.resize(static_cast<size_t>(N));
  m.u.resize(static_cast<size_t>(N * m.G));
  for (int64_t n = 0; n < N; ++n) {
    m.scale[n] = f32_to_bf16(0.01f + 0.01f * static_cast<float>(uniform(n * (m.G + 2), 5)));
    m.zero[n] = static_cast<uint8_t>(zero_point ? uniform(n * (m.G + 2) + 1, 16) : 8);
    for (int64_t k = 0; k < m.G; ++k)
      m.u[n * m.G + k] = static_cast<uint8_t>(k < K ? uniform(n * (m.G + 2) + 2 + k, 16) : m.zero[n]);
  }
  return m;
}

// Many panels and long K (per-channel groups of 3072 and 772, which one-row tiles read in turns of a few quads per
// stream: cpu/quant_avx2.cc tile_streams), at M = 1 (decode) and 3.
TEST(Quant, GPT2SizedShapesMatchTheOracle) {
  for (const QuantSpec& spec : {QuantSpec{8, 0, false, false}, QuantSpec{4, 0, false, false}, QuantSpec{4, 0, false, true},
                                QuantSpec{4, 128, false, true}})
    for (auto [K, N] : {std::pair<int64_t, int64_t>{3072, 97}, {768, 2304}, {772, 600}})
      for (int64_t M : {1, 3}) {
        const std::vector<float> w = randn(static_cast<size_t>(K * N), 41, 0.02f), x = randn(static_cast<size_t>(M * K), 42);
        const cpu::QuantMatrix qm = spec.bits == 4 && spec.group == 0 ? int4_per_channel(K, N, spec.zero_point, 43)
                                                                       : cpu::quantize(w.data(), false, K, N, spec);
        const cpu::QuantLinear packed = cpu::pack_quant(qm);
        std::vector<float> want(static_cast<size_t>(M * N));
        ref::quant_linear(x.data(), M, qm, nullptr, want.data());
        for (QuantPath path : runnable_paths()) {
          PathScope scope(path);
          std::vector<float> got(want.size());
          cpu::quant_linear(x.data(), M, packed, nullptr, {}, got.data());
          expect_close(got, want, spec.name() + " " + cpu::quant_path_name(path) + " K=" + std::to_string(K) +
                                      " M=" + std::to_string(M));
        }
      }
}

// A decode row's outputs do not depend on the thread count: each thread takes a range of panels, and a one-row tile
// reads 2 panels of its range at once (cpu/quant_avx2.cc tile_streams) with each panel's arithmetic the single
// panel's, so a server's replies do not change with JITGEN_NUM_THREADS.
TEST(Quant, DecodeRowIsIndependentOfThreadCount) {
  const int threads = runtime::num_threads();
  // Per-channel groups too: a one-row tile reads them in turns across its streams, a lone panel in one go.
  for (const QuantSpec& spec : {QuantSpec{8, 32, false, false}, QuantSpec{4, 128, true, true}, QuantSpec{8, 0, false, false},
                                QuantSpec{4, 0, false, true}}) {
    const int64_t K = 292, N = 32 * 9 + 5;
    const std::vector<float> w = randn(static_cast<size_t>(K * N), 51, 0.05f), x = randn(static_cast<size_t>(K), 52);
    const cpu::QuantLinear packed = cpu::pack_quant(spec.bits == 4 && spec.group == 0
                                                        ? int4_per_channel(K, N, spec.zero_point, 53)
                                                        : cpu::quantize(w.data(), false, K, N, spec));
    for (QuantPath path : runnable_paths()) {
      PathScope scope(path);
      std::vector<float> first;
      for (int t : {1, 2, 3, 5}) {
        runtime::set_num_threads(t);
        std::vector<float> got(static_cast<size_t>(N));
        cpu::quant_linear(x.data(), 1, packed, nullptr, {}, got.data());
        if (first.empty())
          first = got;
        else
          EXPECT_EQ(0, std::memcmp(got.data(), first.data(), N * sizeof(float)))
              << spec.name() << " " << cpu::quant_path_name(path) << " threads " << t;
      }
    }
  }
  runtime::set_num_threads(threads);
}

// Row r of an M-row quantized linear is bit for bit the 1-row product of that row, on every path: the activations are
// quantized per row and each output's group sums are exact integers added up group by group in the same order
// whatever the tile (a server's decode step computes every slot's row at once; ops_test has the fp32 / bf16 panels).
TEST(Quant, RowIsIndependentOfTheRowsBesideIt) {
  for (const QuantSpec& spec : {QuantSpec{8, 32, false, false}, QuantSpec{4, 128, true, true}, QuantSpec{8, 0, false, false},
                                QuantSpec{4, 32, false, false}}) {
    const int64_t K = 512, N = 32 * 9 + 5;
    const std::vector<float> w = randn(static_cast<size_t>(K * N), 51, 0.05f);
    const cpu::QuantLinear packed = cpu::pack_quant(cpu::quantize(w.data(), false, K, N, spec));
    for (QuantPath path : runnable_paths()) {
      PathScope scope(path);
      for (int64_t M : {2, 3, 4, 5, 7, 8, 9, 13, 17, 33, 70}) {
        const std::vector<float> x = randn(static_cast<size_t>(M * K), 52);
        std::vector<float> all(M * N);
        cpu::quant_linear(x.data(), M, packed, nullptr, {}, all.data());
        std::vector<float> one(N);
        for (int64_t r = 0; r < M; ++r) {
          cpu::quant_linear(x.data() + r * K, 1, packed, nullptr, {}, one.data());
          ASSERT_EQ(0, std::memcmp(one.data(), all.data() + r * N, N * sizeof(float)))
              << spec.name() << " " << cpu::quant_path_name(path) << " M=" << M << " row " << r;
        }
      }
    }
  }
}

// The AVX-VNNI tiles (one vpdpbusd per product step) and the AVX2 ones (vpmaddubsw + vpmaddwd) make the same exact
// integer sums and the same fp32 steps per group, so their outputs agree bit for bit: every format, decode rows (the
// 2-stream tile) and batches (AVX-VNNI's 3-row tiles and its 2-row ones: M = 4 splits 2 + 2, 8 as 3 + 3 + 2), K not
// a multiple of the group, a partial last panel.
TEST(Quant, AvxVnniIsBitIdenticalToAvx2) {
  const std::vector<QuantPath> paths = runnable_paths();
  if (std::find(paths.begin(), paths.end(), QuantPath::kAvxVnni) == paths.end())
    GTEST_SKIP() << "this CPU has no AVX-VNNI (or JITGEN_SIMD / JITGEN_QUANT_PATH caps it)";
  for (const QuantSpec& spec : all_specs()) {
    const int64_t K = 300, N = 32 * 5 + 7;
    const std::vector<float> w = randn(static_cast<size_t>(K * N), 61, 0.05f);
    const cpu::QuantLinear packed = cpu::pack_quant(cpu::quantize(w.data(), false, K, N, spec));
    for (int64_t M : {1, 2, 3, 4, 8, 33}) {
      const std::vector<float> x = randn(static_cast<size_t>(M * K), 62), bias = randn(static_cast<size_t>(N), 63);
      const std::vector<float> got[2] = {linear_on(QuantPath::kAvx2, x, M, packed, bias),
                                         linear_on(QuantPath::kAvxVnni, x, M, packed, bias)};
      ASSERT_EQ(0, std::memcmp(got[0].data(), got[1].data(), got[0].size() * sizeof(float))) << spec.name() << " M=" << M;
    }
  }
}

// The AMX tiles give the vnni kernels' bits: the same exact int32 sums per group and the same fp32 steps. Every format
// (int4 per channel as GPTQ gives it too), groups the tiles take in chunks of 32 k (per-channel K = 96) and of 64
// (K = 320, 640), N from 1 to 4 panels, batches around the 16-row tile and the 32-row pair (1-5 rows past the last
// whole tile on the vnni tiles, 6-15 in a zero-padded tile, several pairs), 1 and 2 threads, and a fused activation
// with an aliased residual.
TEST(Quant, AmxIsBitIdenticalToVnni) {
  const std::vector<QuantPath> paths = runnable_paths();
  if (std::find(paths.begin(), paths.end(), QuantPath::kAmx) == paths.end())
    GTEST_SKIP() << "no AMX-INT8 here (or JITGEN_SIMD / JITGEN_QUANT_PATH caps it)";
  if (!cpu::quant::amx_granted()) GTEST_SKIP() << "the OS did not grant this process the AMX tile state";
  std::vector<std::pair<QuantSpec, bool>> specs;  // (spec, int4 per channel from int4_per_channel)
  for (const QuantSpec& spec : all_specs()) specs.push_back({spec, false});
  specs.push_back({QuantSpec{4, 0, false, false}, true});
  specs.push_back({QuantSpec{4, 0, false, true}, true});
  const int threads = runtime::num_threads();
  for (const auto& [spec, per_channel4] : specs)
    for (auto [K, N] : {std::pair<int64_t, int64_t>{96, 33}, {320, 101}, {640, 1}}) {
      const std::vector<float> w = randn(static_cast<size_t>(K * N), 71, 0.05f);
      const cpu::QuantMatrix qm = per_channel4 ? int4_per_channel(K, N, spec.zero_point, 74)
                                               : cpu::quantize(w.data(), false, K, N, spec);
      const cpu::QuantLinear packed = cpu::pack_quant(qm);
      const std::string name = qm.spec.name() + " K=" + std::to_string(K) + " N=" + std::to_string(N);
      EXPECT_FALSE(cpu::quant::amx_runs(15, packed)) << name;  // below a tile's 16 rows: the vnni kernels
      for (int64_t M : {16, 17, 21, 22, 31, 32, 33, 48, 70, 129})
        for (int t : {1, 2}) {
          if (t == 2 && K != 320) continue;
          runtime::set_num_threads(t);
          ASSERT_TRUE(cpu::quant::amx_runs(M, packed)) << name << " M=" << M;
          const std::vector<float> x = randn(static_cast<size_t>(M * K), 72), bias = randn(static_cast<size_t>(N), 73);
          const std::vector<float> got[2] = {linear_on(QuantPath::kVnni, x, M, packed, bias),
                                             linear_on(QuantPath::kAmx, x, M, packed, bias)};
          ASSERT_EQ(0, std::memcmp(got[0].data(), got[1].data(), got[0].size() * sizeof(float)))
              << name << " M=" << M << " threads " << t;
        }
      runtime::set_num_threads(threads);
      // The activation runs in the sink (TileSink::store) and the residual aliases the output.
      const int64_t M = 20;
      const std::vector<float> x = randn(static_cast<size_t>(M * K), 75), bias = randn(static_cast<size_t>(N), 76);
      const std::vector<float> residual = randn(static_cast<size_t>(M * N), 77);
      cpu::LinearEpilogue e;
      e.has_act = true;
      e.act = Activation::kGeluTanh;
      const std::vector<float> got[2] = {linear_on(QuantPath::kVnni, x, M, packed, bias, e, residual, true),
                                         linear_on(QuantPath::kAmx, x, M, packed, bias, e, residual, true)};
      ASSERT_EQ(0, std::memcmp(got[0].data(), got[1].data(), got[0].size() * sizeof(float))) << name << " epilogue";
    }
}

// JITGEN_QUANT_PATH caps the path at start and in what set_quant_path and the tests may pick; an unknown name caps
// nothing.
TEST(Quant, QuantPathVariableCapsThePath) {
  const QuantPath best = cpu::quant_path_supported();
  ASSERT_EQ(0, setenv("JITGEN_QUANT_PATH", "avx2", 1));
  EXPECT_LE(cpu::quant_path_supported(), QuantPath::kAvx2);
  for (QuantPath p : cpu::quant_paths_runnable()) EXPECT_LE(p, QuantPath::kAvx2) << cpu::quant_path_name(p);
  cpu::set_quant_path(QuantPath::kAmx);
  EXPECT_LE(cpu::quant_path(), QuantPath::kAvx2);
  ASSERT_EQ(0, setenv("JITGEN_QUANT_PATH", "portable", 1));
  EXPECT_EQ(cpu::quant_path_supported(), QuantPath::kPortable);
  ASSERT_EQ(0, setenv("JITGEN_QUANT_PATH", "fastest", 1));
  EXPECT_EQ(cpu::quant_path_supported(), best);
  ASSERT_EQ(0, unsetenv("JITGEN_QUANT_PATH"));
  EXPECT_EQ(cpu::quant_path_supported(), best);
  cpu::set_quant_path(QuantPath::kAmx);
  EXPECT_EQ(cpu::quant_path(), best);
}

TEST(Quant, OracleIsCloseToTheFp32Product) {
  // The quantized product against the exact one: int8 within ~1%, int4 within ~15% of the output's scale (random
  // Gaussian weights; relative errors of the elements' rounding add up like a random walk).
  const int64_t M = 5, K = 256, N = 64;
  const std::vector<float> w = randn(K * N, 7, 0.05f), x = randn(M * K, 8);
  std::vector<float> exact(M * N);
  ref::linear(x.data(), w.data(), nullptr, M, K, N, exact.data());
  float scale = 0;
  for (float v : exact) scale = std::max(scale, std::fabs(v));
  for (const QuantSpec& spec : all_specs()) {
    const cpu::QuantMatrix qm = cpu::quantize(w.data(), false, K, N, spec);
    std::vector<float> y(M * N);
    ref::quant_linear(x.data(), M, qm, nullptr, y.data());
    float err = 0;
    for (int64_t i = 0; i < M * N; ++i) err = std::max(err, std::fabs(y[i] - exact[i]));
    EXPECT_LT(err / scale, spec.bits == 8 ? 0.02f : 0.2f) << spec.name();
    EXPECT_GT(err, 0.0f) << spec.name() << ": quantization changed nothing, the test would not see a bug";
  }
}

TEST(Quant, DequantizeRoundTripIsWithinHalfAStep) {
  const int64_t K = 200, N = 9;  // 200 = 6 groups of 32 + 8
  std::vector<float> w = randn(K * N, 3, 0.1f);
  w[5] = 0.0f;
  for (int64_t k = 0; k < 32; ++k) w[k * N + 1] = 0.0f;  // an all-zero group: scale 0, exact zeros back
  for (const QuantSpec& spec : all_specs()) {
    const cpu::QuantMatrix qm = cpu::quantize(w.data(), false, K, N, spec);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        const int64_t g = k / qm.G, k0 = g * qm.G, k1 = std::min(K, k0 + qm.G);
        float lo = 0, hi = 0;
        for (int64_t j = k0; j < k1; ++j) {
          lo = std::min(lo, w[j * N + n]);
          hi = std::max(hi, w[j * N + n]);
        }
        const float step = std::fabs(qm.scale_at(n, g));  // -q40 scales carry a sign
        // Half a step from rounding, plus the 16-bit scale's rounding (<= 2^-8 relative) carried by the code. Q4_0's
        // rule reaches 8 steps on the largest weight's side and 7 on the other, where larger weights are clipped.
        const float clipped = spec.q4_0_scale ? std::max(0.0f, std::fabs(w[k * N + n]) - 7.5f * step) : 0.0f;
        const float bound = 0.5f * step + clipped + std::max(hi, -lo) * (spec.scale_f16 ? 1e-3f : 4e-3f) + 1e-7f;
        ASSERT_NEAR(qm.dequant(k, n), w[k * N + n], bound) << spec.name() << " k=" << k << " n=" << n;
        if (hi == 0 && lo == 0) {
          ASSERT_EQ(qm.dequant(k, n), 0.0f);
        }
      }
  }
}

TEST(Quant, Q4_0ScaleRuleMapsTheLargestWeightToCodeZeroAndHasFinerSteps) {
  const int64_t K = 256, N = 16;
  std::vector<float> w = randn(K * N, 51, 0.05f);
  for (int64_t n = 0; n < N; ++n) w[(7 + n) * N + n] = (n % 2 ? 0.5f : -0.5f);  // group 0's largest, either sign
  const QuantSpec q40{4, 32, false, false, true}, plain{4, 32, false, false};
  ASSERT_EQ(q40.name(), "int4-q40");
  const cpu::QuantMatrix a = cpu::quantize(w.data(), false, K, N, q40), b = cpu::quantize(w.data(), false, K, N, plain);
  double err_a = 0, err_b = 0;
  for (int64_t n = 0; n < N; ++n) {
    const float m = w[(7 + n) * N + n];
    EXPECT_EQ(a.u[n * a.k_padded() + 7 + n], 0) << n;  // q = -8
    EXPECT_LT(a.scale_at(n, 0) * m, 0.0f) << n;       // the scale has the opposite sign of m
    EXPECT_NEAR(a.dequant(7 + n, n), m, 0.5f * 4e-3f) << n;
    for (int64_t k = 0; k < K; ++k) {
      err_a += std::fabs(a.dequant(k, n) - w[k * N + n]);
      err_b += std::fabs(b.dequant(k, n) - w[k * N + n]);
    }
  }
  // Gaussian groups: steps of max / 8 instead of max / 7 lower the mean rounding error (~7/8 of it, less the clips).
  EXPECT_LT(err_a, 0.95 * err_b) << err_a << " vs " << err_b;
  EXPECT_THROW(cpu::parse_quant_spec("int8-q40", "x"), Error);
  EXPECT_THROW(cpu::parse_quant_spec("int4-q40-zp", "x"), Error);
  EXPECT_EQ(cpu::parse_quant_spec("int4-g128-q40-f16", "x").name(), "int4-g128-q40-f16");
}

TEST(Quant, ActivationsRoundTripAndGroupSums) {
  const int64_t M = 3, K = 70, G = 32, groups = 3;
  std::vector<float> x = randn(M * K, 11);
  for (int64_t k = 0; k < K; ++k) x[K + k] = 0.0f;  // a zero row
  x[2 * K + 4] = std::nanf("");                       // a NaN row gives NaN outputs, not a crash
  cpu::QuantActs a;
  cpu::quantize_activations(x.data(), M, K, G, groups, a);
  ASSERT_EQ(a.Kp, 96);
  float amax = 0;
  for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(x[k]));
  EXPECT_FLOAT_EQ(a.sx[0], amax / 127.0f);
  for (int64_t g = 0; g < groups; ++g) {
    int32_t sum = 0;
    for (int64_t k = g * G; k < (g + 1) * G; ++k) {
      if (k < K) EXPECT_NEAR(a.sx[0] * a.q[k], x[k], 0.5f * a.sx[0] * 1.0001f);
      else EXPECT_EQ(a.q[k], 0);
      sum += a.q[k];
    }
    EXPECT_EQ(a.qsum[g], sum);
  }
  for (int64_t k = 0; k < a.Kp; ++k) EXPECT_EQ(a.q[a.Kp + k], 0);
  EXPECT_TRUE(std::isnan(a.sx[2]));
  const std::vector<float> w = randn(K * 5, 12);
  const cpu::QuantMatrix qm = cpu::quantize(w.data(), false, K, 5, QuantSpec{});
  std::vector<float> y(M * 5);
  cpu::quant_linear(x.data(), M, cpu::pack_quant(qm), nullptr, {}, y.data());
  for (int n = 0; n < 5; ++n) {
    EXPECT_EQ(y[5 + n], 0.0f);
    EXPECT_TRUE(std::isnan(y[10 + n]));
  }
}

TEST(Quant, FastActivationQuantizationIsBitEqualToTheScalarOne) {
  for (auto [K, G] : {std::pair<int64_t, int64_t>{70, 32}, {300, 128}, {772, 772}, {770, 772}, {5, 32}}) {
    const int64_t M = 7, groups = (K + G - 1) / G;
    std::vector<float> x = randn(static_cast<size_t>(M * K), 31, 3.0f);
    for (int64_t k = 0; k < K; ++k) x[2 * K + k] = static_cast<float>(k % 255) - 127.0f + 0.5f;  // ties
    for (int64_t k = 0; k < K; ++k) x[3 * K + k] = 0.0f;
    x[4 * K + K / 2] = INFINITY;
    x[5 * K] = -1e30f;
    for (QuantPath path : runnable_paths()) {
      PathScope scope(path);
      cpu::QuantActs want, got;
      cpu::quantize_activations(x.data(), M, K, G, groups, want);
      cpu::quantize_activations_fast(x.data(), M, K, G, groups, got);
      EXPECT_EQ(got.q, want.q) << cpu::quant_path_name(path) << " K=" << K;
      EXPECT_EQ(got.qsum, want.qsum) << cpu::quant_path_name(path) << " K=" << K;
      for (int64_t m = 0; m < M; ++m)
        if (std::isnan(want.sx[m])) EXPECT_TRUE(std::isnan(got.sx[m]));
        else EXPECT_EQ(got.sx[m], want.sx[m]);
    }
  }
}

TEST(Quant, EpilogueAppliesBiasActivationAndAliasedResidual) {
  const int64_t M = 6, K = 64, N = 45;
  const std::vector<float> w = randn(K * N, 21, 0.1f), x = randn(M * K, 22), bias = randn(N, 23);
  for (QuantPath path : runnable_paths()) {
    PathScope scope(path);
    const cpu::QuantMatrix qm = cpu::quantize(w.data(), false, K, N, QuantSpec{4, 32, false, true});
    std::vector<float> plain(M * N);
    ref::quant_linear(x.data(), M, qm, bias.data(), plain.data());
    std::vector<float> out = randn(M * N, 24);  // the residual, overwritten in place
    const std::vector<float> residual = out;
    cpu::LinearEpilogue e;
    e.has_act = true;
    e.act = Activation::kGeluTanh;
    e.residual = out.data();
    cpu::quant_linear(x.data(), M, cpu::pack_quant(qm), bias.data(), e, out.data());
    std::vector<float> want(M * N);
    ref::activation(plain.data(), want.data(), M * N, Activation::kGeluTanh);
    for (int64_t i = 0; i < M * N; ++i) EXPECT_NEAR(out[i], want[i] + residual[i], 1e-4f) << cpu::quant_path_name(path);
    // Each row alone gives the same bits as in the batch (the sink runs the activation over a whole tile at once).
    for (int64_t m = 0; m < M; ++m) {
      std::vector<float> row(residual.begin() + m * N, residual.begin() + (m + 1) * N);
      cpu::LinearEpilogue e1 = e;
      e1.residual = row.data();
      cpu::quant_linear(x.data() + m * K, 1, cpu::pack_quant(qm), bias.data(), e1, row.data());
      EXPECT_EQ(0, std::memcmp(row.data(), out.data() + m * N, N * sizeof(float))) << cpu::quant_path_name(path) << " row " << m;
    }
  }
}

TEST(Quant, FormatNamesParseAndBadOnesAreRefusedByName) {
  for (const QuantSpec& spec : all_specs()) {
    const QuantSpec back = cpu::parse_quant_spec(spec.name(), "--quantize");
    EXPECT_EQ(back.name(), spec.name());
  }
  EXPECT_EQ(cpu::parse_quant_spec("int4-g128-zp", "x").group, 128);
  try {
    cpu::parse_quant_spec("int3", "--quantize");
    FAIL() << "int3 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("--quantize: \"int3\""), std::string::npos) << e.what();
  }
  EXPECT_THROW(cpu::parse_quant_spec("int8-zp", "x"), Error);  // int8 is symmetric only
  std::vector<float> w = randn(64, 1);
  w[10] = INFINITY;
  EXPECT_THROW(cpu::quantize(w.data(), false, 8, 8, QuantSpec{}), Error);
}

TEST(Quant, PackedBytesAreWhatTheFormatSays) {
  const std::vector<float> w = randn(768 * 64, 5);
  const auto i8 = cpu::pack_quant(cpu::quantize(w.data(), false, 768, 64, QuantSpec{8, 32, false, false}));
  const auto i4 = cpu::pack_quant(cpu::quantize(w.data(), false, 768, 64, QuantSpec{4, 32, false, false}));
  const auto i4g = cpu::pack_quant(cpu::quantize(w.data(), false, 768, 64, QuantSpec{4, 128, false, true}));
  EXPECT_EQ(i8.nbytes(), 768u * 64 + 768u / 32 * 64 * 2);          // 8.5 bits per weight
  EXPECT_EQ(i4.nbytes(), 768u * 64 / 2 + 768u / 32 * 64 * 2);      // 4.5 bits
  EXPECT_EQ(i4g.nbytes(), 768u * 64 / 2 + 768u / 128 * 64 * 3);    // 4.1875 bits
  // Stored: each (panel, group) block is codes + 64 bytes of scales (+ 64 bytes of zero points, half padding).
  EXPECT_EQ(i8.stored_bytes(), i8.nbytes());
  EXPECT_EQ(i4.stored_bytes(), i4.nbytes());
  EXPECT_EQ(i4g.stored_bytes(), 768u * 64 / 2 + 768u / 128 * 2 * (64 + 64));
}

// The layout ops/quant.h promises (one block per panel and group: codes, scales, zero points) holds the matrix's
// scales and zero points, and PreparedWeights puts the matrices' blocks back to back in the order they were added,
// followed by the next unquantized panels (where core/memory.h maps arenas: Linux without ASan), so a decode step
// reads its weights as one stream.
TEST(Quant, PreparedBlocksLieBackToBackInAddOrder) {
  const auto round64 = [](size_t b) { return (b + 63) / 64 * 64; };
  for (const char* format : {"int8", "int4-g128-zp", "int8-ch"}) {
    cpu::WeightFormat f = cpu::parse_weight_format(format, "test");
    const cpu::ScopedWeightFormat scope(f);
    cpu::PreparedWeights prepared(cpu::WeightStorage::kBF16);
    struct Mat {
      int64_t K, N;
      bool transposed;
      Tensor t;
    };
    std::vector<Mat> mats = {{300, 40, false, {}}, {64, 33, true, {}}, {160, 70, false, {}}};
    for (size_t i = 0; i < mats.size(); ++i) {
      Mat& m = mats[i];
      const std::vector<float> w = randn(m.K * m.N, 40 + static_cast<uint32_t>(i));
      m.t = Tensor::zeros(m.transposed ? Shape{m.N, m.K} : Shape{m.K, m.N});
      std::copy(w.begin(), w.end(), m.t.f32());
      prepared.add(m.t, m.transposed, /*lm_head=*/i == 2);  // the lm_head stays bf16 panels
    }
    std::vector<const uint8_t*> starts, ends;
    for (size_t i = 0; i < mats.size(); ++i) {
      const cpu::PackedLinear* p = cpu::find_packed(mats[i].t.f32(), mats[i].K, mats[i].N);
      ASSERT_NE(p, nullptr);
      const auto* data = static_cast<const uint8_t*>(p->quant ? static_cast<const void*>(p->quant->data.get()) : p->data.get());
      EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % 64, 0u) << format << " " << i;
      starts.push_back(data);
      ends.push_back(data + round64(p->quant ? p->quant->stored_bytes() : p->nbytes()));
      ASSERT_EQ(p->quant != nullptr, i < 2) << format << " " << i;
      if (!p->quant) continue;
      const cpu::QuantLinear& q = *p->quant;
      const cpu::QuantMatrix ref = cpu::quantize(mats[i].t.f32(), mats[i].transposed, mats[i].K, mats[i].N, *f.quant);
      for (int64_t n = 0; n < q.N; ++n)
        for (int64_t g = 0; g < q.groups; ++g) {
          ASSERT_EQ(q.group_scales(n / 32, g)[n % 32], ref.scale[n * ref.groups + g]) << format << " n " << n << " g " << g;
          if (q.has_zeros()) {
            ASSERT_EQ(q.group_zeros(n / 32, g)[n % 32], ref.zero[n * ref.groups + g]) << format;
          }
        }
      EXPECT_EQ(q.has_zeros(), f.quant->zero_point);
    }
    if (kHugeMappings) {
      EXPECT_EQ(starts[1], ends[0]) << format;
      EXPECT_EQ(starts[2], ends[1]) << format;
    }
  }
}

// quant_linear keeps the last input's quantized activations for the next call that brings the same bytes (q / k / v
// share an input): a buffer rewritten in place (same pointer), one changed element at the end, or another grouping
// of the same input has to quantize again, so every call still matches the oracle.
TEST(Quant, SharedInputIsReusedOnlyWhenItsBytesAndGroupingMatch) {
  const int64_t K = 96, N = 40;
  const QuantSpec g32{8, 32, false, false}, ch{8, 0, false, false}, g32_4bit{4, 32, false, true};
  const std::vector<float> w = randn(static_cast<size_t>(K * N), 61, 0.05f);
  for (QuantPath path : runnable_paths()) {
    PathScope scope(path);
    for (int64_t M : {1, 3}) {
      std::vector<float> x = randn(static_cast<size_t>(M * K), 62);
      const auto check = [&](const QuantSpec& spec, const std::string& what) {
        const cpu::QuantMatrix qm = cpu::quantize(w.data(), false, K, N, spec);
        std::vector<float> want(static_cast<size_t>(M * N)), got(want.size(), -1.0f);
        ref::quant_linear(x.data(), M, qm, nullptr, want.data());
        cpu::quant_linear(x.data(), M, cpu::pack_quant(qm), nullptr, {}, got.data());
        expect_close(got, want, what + " " + cpu::quant_path_name(path) + " M=" + std::to_string(M));
      };
      check(g32, "first");
      check(g32, "same input again");
      check(g32_4bit, "same input, int4");
      check(ch, "same input, per-channel groups");
      for (float& v : x) v *= -3.0f;
      check(ch, "rewritten in place");
      x.back() = 40.0f;  // the row's largest magnitude: every code of the last row changes
      check(ch, "last element changed");
    }
  }
}

// find_packed answers from a per-thread memo: a PreparedWeights destroyed and another built over the same tensor
// (same address, another format) must be seen at once.
TEST(Quant, FindPackedSeesWeightsDroppedAndPreparedAgain) {
  const int64_t K = 64, N = 32;
  Tensor t = Tensor::zeros(Shape{K, N});
  const std::vector<float> w = randn(static_cast<size_t>(K * N), 63);
  std::copy(w.begin(), w.end(), t.f32());
  {
    const cpu::ScopedWeightFormat scope(cpu::parse_weight_format("int8", "test"));
    cpu::PreparedWeights prepared(cpu::WeightStorage::kBF16);
    prepared.add(t, false, false);
    const cpu::PackedLinear* p = cpu::find_packed(t.f32(), K, N);
    ASSERT_TRUE(p && p->quant);
    EXPECT_EQ(p->quant->spec.bits, 8);
    EXPECT_EQ(cpu::find_packed(t.f32(), K, N), p);
    EXPECT_EQ(cpu::find_packed(t.f32(), K + 1, N), nullptr);
  }
  EXPECT_EQ(cpu::find_packed(t.f32(), K, N), nullptr);
  const cpu::ScopedWeightFormat scope(cpu::parse_weight_format("int4", "test"));
  cpu::PreparedWeights prepared(cpu::WeightStorage::kBF16);
  prepared.add(t, false, false);
  const cpu::PackedLinear* p = cpu::find_packed(t.f32(), K, N);
  ASSERT_TRUE(p && p->quant);
  EXPECT_EQ(p->quant->spec.bits, 4);
}

}  // namespace
}  // namespace jitgen
