// The CUDA kernels of issues 20 and 16 against the CPU (JITGEN_CUDA builds only):
//   int8 / int4 weight-only linears (ops/cuda/quant_gemm.h): on every machine, the device layout holds every code,
//   scale and zero point of the CPU panels, and the host emulation of the kernels' order equals ref::quant_linear; on a
//   GPU, the kernels equal that emulation and the oracle at odd shapes and M = 1 .. 33, and quantized models (GPT-2,
//   Llama, a SmolLM2-135M shape) give the CPU quantized path's logits and greedy tokens.
//   grouped-query decode attention (attention_gqa.cu): on every machine, its host logic (when it applies, chunks that
//   cover every key once and fit shared memory); on a GPU, equal to ref::attention_qkv for GQA ratios 2 .. 16 and MQA,
//   sliding windows, masked keys and long caches, and to the per-head kernel.
// Device cases skip (GTEST_SKIP) without a GPU; scripts/device-check.sh runs them.
#include <gtest/gtest.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "exec/cuda/cuda_model_state.h"
#include "exec/cuda/cuda_step_runner.h"
#include "jitgen/error.h"
#include "jitgen/generate.h"
#include "ops/cpu_kernels.h"
#include "ops/cuda/device_weights.h"
#include "ops/cuda/quant_gemm.h"
#include "ops/cuda/quant_layout.h"
#include "ops/prepared_weights.h"
#include "ops/quant.h"
#include "ops/reference.h"
#include "test_support.h"
#include "quant_specs.h"

namespace jitgen {
namespace {

using cpu::QuantSpec;
using cuda::Storage;
using Rows = std::vector<std::vector<int32_t>>;

#define SKIP_WITHOUT_GPU() \
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device (cudaGetDeviceCount = 0)"

using test::randn;

// Every format the CPU quantizes to (ops/quant.h), as tests/quant_test.cc runs them.
std::vector<QuantSpec> all_specs() { return test::all_quant_specs(); }

struct KN {
  int64_t K, N;
};
const KN kShapes[] = {{37, 33}, {160, 65}, {129, 31}, {300, 47}, {4, 1}, {576, 193}};

// A GPTQ desc_act-like matrix: int4 with zero points and fp16 scales, a group of 36 (not a multiple of the 32-k
// chunk), input rows permuted over the slots and one padding slot per group.
cpu::QuantMatrix permuted_matrix(uint32_t seed) {
  cpu::QuantMatrix m;
  m.spec = QuantSpec{4, 36, true, true};
  m.K = 70;
  m.N = 45;
  m.G = 36;
  m.groups = 2;
  std::mt19937 rng(seed);
  std::vector<int32_t> rows(m.K);
  std::iota(rows.begin(), rows.end(), 0);
  std::shuffle(rows.begin(), rows.end(), rng);
  m.perm.assign(72, -1);
  for (int64_t i = 0, s = 0; s < 72; ++s)
    if (s != 10 && s != 50) m.perm[s] = rows[i++];
  m.u.resize(static_cast<size_t>(m.N * 72));
  m.scale.resize(static_cast<size_t>(m.N * m.groups));
  m.zero.resize(m.scale.size());
  for (int64_t n = 0; n < m.N; ++n)
    for (int64_t g = 0; g < m.groups; ++g) {
      m.scale[n * m.groups + g] = f32_to_f16(0.001f + 0.01f * static_cast<float>(rng() % 100) / 100.0f);
      m.zero[n * m.groups + g] = static_cast<uint8_t>(rng() % 16);
    }
  for (int64_t n = 0; n < m.N; ++n)
    for (int64_t s = 0; s < 72; ++s)
      m.u[n * 72 + s] = m.perm[s] < 0 ? m.zero[n * m.groups + s / 36] : static_cast<uint8_t>(rng() % 16);
  return m;
}

// Kernel and oracle do the same integer sums; only the fp32 accumulation order differs (tests/quant_test.cc).
double max_rel_gap(const std::vector<float>& got, const std::vector<float>& want) {
  float scale = 1e-3f;
  for (float v : want) scale = std::max(scale, std::fabs(v));
  double gap = 0;
  for (size_t i = 0; i < got.size(); ++i) gap = std::max(gap, std::fabs(double{got[i]} - want[i]) / scale);
  return gap;
}

// ---- host logic (every machine) ----

TEST(CudaQuantHost, DeviceLayoutHoldsEveryCodeScaleAndZeroOfThePanels) {
  uint32_t seed = 1;
  auto check = [&](const cpu::QuantMatrix& qm, const std::string& what) {
    const cpu::QuantLinear packed = cpu::pack_quant(qm);
    const cuda::DeviceQuantMatrix d = cuda::to_device_layout(packed);
    ASSERT_EQ(d.row_bytes % cuda::kQuantChunkBytes, 0) << what;
    ASSERT_EQ(d.Gd % cuda::quant_chunk_k(d.bits), 0) << what;
    ASSERT_GE(d.Gd, d.G) << what;
    EXPECT_EQ(d.zeros.empty(), !qm.spec.zero_point) << what;
    EXPECT_EQ(d.perm, qm.perm) << what;
    for (int64_t n = 0; n < qm.N; ++n) {
      for (int64_t s = 0; s < qm.k_padded(); ++s)
        ASSERT_EQ(d.code_at(n, s), qm.u[n * qm.k_padded() + s]) << what << " n=" << n << " slot " << s;
      for (int64_t g = 0; g < qm.groups; ++g) {
        ASSERT_EQ(d.scales[n * d.groups + g], qm.scale[n * qm.groups + g]) << what;
        if (!d.zeros.empty()) ASSERT_EQ(d.zeros[n * d.groups + g], qm.zero[n * qm.groups + g]) << what;
        else ASSERT_EQ(d.zero_const, qm.zero[n * qm.groups + g]) << what;
      }
    }
  };
  for (const QuantSpec& spec : all_specs())
    for (const KN& s : kShapes)
      for (bool transposed : {false, true}) {
        const std::vector<float> w = randn(static_cast<size_t>(s.K * s.N), seed++, 0.05f);
        check(cpu::quantize(w.data(), transposed, s.K, s.N, spec),
              spec.name() + " K=" + std::to_string(s.K) + " N=" + std::to_string(s.N));
      }
  check(permuted_matrix(7), "permuted int4 g36");
}

TEST(CudaQuantHost, EmulatedKernelOrderMatchesTheCpuOracle) {
  uint32_t seed = 100;
  const int64_t Ms[] = {1, 2, 3, 5, 8, 9, 33};
  auto check = [&](const cpu::QuantMatrix& qm, const std::string& what) {
    const cuda::DeviceQuantMatrix d = cuda::to_device_layout(cpu::pack_quant(qm));
    const std::vector<float> bias = randn(static_cast<size_t>(qm.N), seed++);
    for (int64_t M : Ms) {
      std::vector<float> x = randn(static_cast<size_t>(M * qm.K), seed++);
      if (M == 3) x[qm.K] = NAN;  // a non-finite row gives NaN outputs, as in fp32
      std::vector<float> want(static_cast<size_t>(M * qm.N)), got(want.size());
      ref::quant_linear(x.data(), M, qm, bias.data(), want.data());
      cuda::quant_linear_emulated(x.data(), M, d, bias.data(), got.data());
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(std::isnan(got[i]), std::isnan(want[i])) << what << " M=" << M << " at " << i;
        if (std::isnan(want[i])) got[i] = want[i] = 0;
      }
      EXPECT_LT(max_rel_gap(got, want), 4e-6) << what << " M=" << M;
    }
  };
  for (const QuantSpec& spec : all_specs())
    for (const KN& s : kShapes) {
      const std::vector<float> w = randn(static_cast<size_t>(s.K * s.N), seed++, 0.05f);
      check(cpu::quantize(w.data(), true, s.K, s.N, spec), spec.name() + " K=" + std::to_string(s.K));
    }
  check(permuted_matrix(8), "permuted int4 g36");
}

TEST(CudaQuantHost, RowTilesAndScratchSizes) {
  EXPECT_EQ(cuda::quant_rows_per_tile(1), 1);
  EXPECT_EQ(cuda::quant_rows_per_tile(2), 2);
  EXPECT_EQ(cuda::quant_rows_per_tile(3), 4);
  EXPECT_EQ(cuda::quant_rows_per_tile(4), 4);
  EXPECT_EQ(cuda::quant_rows_per_tile(5), 8);
  EXPECT_EQ(cuda::quant_rows_per_tile(33), 8);
  EXPECT_EQ(cuda::quant_scratch_bytes(64, 3), 192u + 12u);
  EXPECT_EQ(cuda::quant_scratch_bytes(32, 1), 32u + 4u);
  EXPECT_EQ(cuda::quant_scratch_bytes(16, 3), 48u + 12u);  // sx starts 16-byte aligned
  EXPECT_EQ(cuda::quant_scratch_bytes(16, 1), 16u + 4u);
}

TEST(CudaQuantHost, FormatsTheKernelsDoNotHaveAreRefused) {
  const std::vector<float> w = randn(64 * 8, 3, 0.05f);
  cpu::QuantLinear bad = cpu::pack_quant(cpu::quantize(w.data(), false, 64, 8, QuantSpec{4, 32, false, false}));
  bad.spec.bits = 2;
  try {
    cuda::to_device_layout(bad);
    FAIL() << "2-bit weights were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not one the kernels run"), std::string::npos) << e.what();
  }
}

TEST(CudaGqaHost, GroupedKernelAppliesToGroupedDecodeOnly) {
  cuda::AttentionDims d{1, 1, 256, 32, 64};
  d.KV = 4;
  EXPECT_EQ(cuda::attention_group(d), 8);
  d.grouped = false;
  EXPECT_EQ(cuda::attention_group(d), 1);  // forced per-head
  d.grouped = true;
  d.T = 5;
  EXPECT_EQ(cuda::attention_group(d), 1);  // prefill: per-head kernel
  d.T = 1;
  d.KV = 32;
  EXPECT_EQ(cuda::attention_group(d), 1);  // plain multi-head
  d.KV = 1;
  EXPECT_EQ(cuda::attention_group(d), 1);  // MQA with 32 queries per head: above kMaxAttentionGroup
  d.H = 16;
  EXPECT_EQ(cuda::attention_group(d), 16);
}

TEST(CudaGqaHost, GroupedSplitCoversEveryKeyOnceWithinSharedMemory) {
  for (int64_t D : {32, 64, 80, 128, 256})
    for (int64_t G : {2, 3, 4, 8, 16})
      for (int64_t B : {1, 8, 32})
        for (int64_t S : {1, 63, 64, 1000, 4096, 32768}) {
          cuda::AttentionDims d{B, 1, S, 2 * G, D};
          d.KV = 2;
          ASSERT_EQ(cuda::attention_group(d), G);
          const cuda::AttentionSplit s = cuda::attention_split(d);
          ASSERT_GE(int64_t{s.chunks} * s.chunk_keys, S) << "D=" << D << " G=" << G << " S=" << S;
          ASSERT_LT(int64_t{s.chunks - 1} * s.chunk_keys, S);
          ASSERT_LE(cuda::attention_grouped_smem_bytes(d, s.chunk_keys), 48u * 1024u) << "D=" << D << " G=" << G;
          EXPECT_EQ(cuda::attention_workspace_bytes(d) == 0, s.chunks == 1);
        }
}

// ---- on a GPU ----

// Uploads host floats in storage s.
cuda::DeviceBuffer upload(Storage s, const std::vector<float>& v) {
  cuda::DeviceBuffer b(std::max<size_t>(v.size(), 1) * cuda::storage_bytes(s));
  cuda::upload_converted(s, v.data(), b.data(), static_cast<int64_t>(v.size()), nullptr);
  return b;
}
std::vector<float> download(Storage s, const void* dev, size_t n) {
  cuda::DeviceBuffer f(n * sizeof(float));
  cuda::to_f32(s, dev, f.as<float>(), static_cast<int64_t>(n), nullptr);
  std::vector<float> out(n);
  JITGEN_CUDA_CHECK(cudaMemcpy(out.data(), f.data(), n * sizeof(float), cudaMemcpyDeviceToHost));
  return out;
}
std::vector<float> rounded(Storage s, std::vector<float> v) {
  for (float& x : v) x = s == Storage::kF16 ? f16_to_f32(f32_to_f16(x)) : s == Storage::kBF16 ? bf16_to_f32(f32_to_bf16(x)) : x;
  return v;
}

TEST(CudaQuant, KernelsEqualTheEmulationAndTheCpuOracleAtOddShapes) {
  SKIP_WITHOUT_GPU();
  uint32_t seed = 300;
  const int64_t Ms[] = {1, 2, 3, 4, 5, 8, 9, 17, 32, 33};
  cuda::DeviceWeights dw(Storage::kF32);
  auto run = [&](const cpu::QuantMatrix& qm, const std::string& what) {
    auto packed = std::make_shared<const cpu::QuantLinear>(cpu::pack_quant(qm));
    const cuda::DeviceQuantView& v = dw.quant(packed);
    const cuda::DeviceQuantMatrix d = cuda::to_device_layout(*packed);
    const std::vector<float> bias = randn(static_cast<size_t>(qm.N), seed++);
    double gap_oracle = 0, gap_emulation = 0;
    for (int64_t M : Ms) {
      const std::vector<float> x = randn(static_cast<size_t>(M * qm.K), seed++);
      std::vector<float> want(static_cast<size_t>(M * qm.N)), emulated(want.size());
      ref::quant_linear(x.data(), M, qm, bias.data(), want.data());
      cuda::quant_linear_emulated(x.data(), M, d, bias.data(), emulated.data());
      cuda::DeviceBuffer dx = upload(Storage::kF32, x), db = upload(Storage::kF32, bias), out(want.size() * 4),
                         scratch(cuda::quant_scratch_bytes(v.slots(), M));
      cuda::quant_linear(Storage::kF32, dx.data(), M, v, db.data(), nullptr, out.data(), false, scratch.data(), nullptr);
      const std::vector<float> got = download(Storage::kF32, out.data(), want.size());
      gap_oracle = std::max(gap_oracle, max_rel_gap(got, want));
      gap_emulation = std::max(gap_emulation, max_rel_gap(got, emulated));
    }
    std::cout << "[ cuda quant ] " << what << ": M 1..33, max |gpu - cpu oracle| / max|y| = " << gap_oracle
              << ", max |gpu - host emulation| / max|y| = " << gap_emulation << "\n";
    EXPECT_LT(gap_oracle, 4e-6) << what;
    EXPECT_LT(gap_emulation, 1e-6) << what;  // same operations in the same order
  };
  for (const QuantSpec& spec : all_specs())
    for (const KN& s : kShapes) {
      const std::vector<float> w = randn(static_cast<size_t>(s.K * s.N), seed++, 0.05f);
      run(cpu::quantize(w.data(), true, s.K, s.N, spec),
          spec.name() + " K=" + std::to_string(s.K) + " N=" + std::to_string(s.N));
    }
  run(permuted_matrix(9), "permuted int4 g36 (GPTQ desc_act)");
}

// fp16 / bf16 activations, the fused residual (in place, as the plans run it) and fp32 logits out of half storage.
TEST(CudaQuant, HalfStorageResidualAndFp32Output) {
  SKIP_WITHOUT_GPU();
  const int64_t K = 300, N = 129, M = 5;
  const std::vector<float> w = randn(static_cast<size_t>(K * N), 11, 0.05f);
  const cpu::QuantMatrix qm = cpu::quantize(w.data(), true, K, N, QuantSpec{4, 128, false, true});
  cuda::DeviceWeights dw(Storage::kF16);
  const cuda::DeviceQuantView& v = dw.quant(std::make_shared<const cpu::QuantLinear>(cpu::pack_quant(qm)));
  for (Storage s : {Storage::kF16, Storage::kBF16}) {
    const std::vector<float> x = rounded(s, randn(static_cast<size_t>(M * K), 12)),
                             bias = rounded(s, randn(static_cast<size_t>(N), 13)),
                             res = rounded(s, randn(static_cast<size_t>(M * N), 14));
    std::vector<float> want(static_cast<size_t>(M * N));
    ref::quant_linear(x.data(), M, qm, bias.data(), want.data());
    cuda::DeviceBuffer dx = upload(s, x), db = upload(s, bias), dres = upload(s, res), out32(want.size() * 4),
                       scratch(cuda::quant_scratch_bytes(v.slots(), M));
    cuda::quant_linear(s, dx.data(), M, v, db.data(), nullptr, out32.data(), true, scratch.data(), nullptr);
    EXPECT_LT(max_rel_gap(download(Storage::kF32, out32.data(), want.size()), want), 4e-6) << cuda::storage_name(s);
    cuda::quant_linear(s, dx.data(), M, v, db.data(), dres.data(), dres.data(), false, scratch.data(), nullptr);
    std::vector<float> with_res(want.size());
    for (size_t i = 0; i < want.size(); ++i) with_res[i] = want[i] + res[i];
    const double tol = s == Storage::kF16 ? 2e-3 : 1e-2;  // the stored output's rounding
    EXPECT_LT(max_rel_gap(download(s, dres.data(), want.size()), with_res), tol) << cuda::storage_name(s);
  }
}

Model with_format(const std::string& preset, const std::string& format, uint64_t seed) {
  const cpu::ScopedWeightFormat scope(cpu::parse_weight_format(format, "test"));
  return Model::random_preset(preset, seed);
}

Rows ids_rows(int B, int T, int V, int salt) {
  Rows r(B, std::vector<int32_t>(T));
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) r[b][t] = (977 * b + 131 * t + salt) % V;
  return r;
}

// Prefill (a left-padded second row) then decode steps: every logit in order.
std::vector<float> run_steps(StepRunner& r, int B, int T, int decodes, int V) {
  Rows ids = ids_rows(B, T, V, 3), mask(B, std::vector<int32_t>(T, 1)), pos(B, std::vector<int32_t>(T));
  if (B > 1) mask[1][0] = mask[1][1] = 0;
  std::vector<int32_t> next(B);
  for (int b = 0; b < B; ++b) next[b] = prompt_positions(mask[b], pos[b]);
  const Tensor first = r.step(ids, pos, mask, false);
  std::vector<float> all(first.f32(), first.f32() + first.numel());
  std::vector<int32_t> tok(B);
  for (int s = 0; s < decodes; ++s) {
    for (int b = 0; b < B; ++b) tok[b] = (53 * s + 7 * b + 1) % V;
    const Tensor& l = r.decode(tok.data(), next.data());
    all.insert(all.end(), l.f32(), l.f32() + l.numel());
    for (int32_t& p : next) ++p;
  }
  return all;
}

// A quantized model on the GPU computes what it computes on the CPU: logits close to the CPU quantized path (and not
// to fp32's: the weights really are quantized on the device), both modes.
TEST(CudaQuant, QuantizedModelsLogitsMatchTheCpuQuantizedPath) {
  SKIP_WITHOUT_GPU();
  for (const char* preset : {"tiny", "llama-tiny"})
    for (const char* format : {"int8", "int8-ch", "int4", "int4-g128-zp", "int4-f16"}) {
      const Model q = with_format(preset, format, 5), f32 = with_format(preset, "f32", 5);
      const int V = q.info().vocab_size, B = 3;
      auto cpu_q = make_step_runner(q, B, 40, ExecutionMode::kCompiled, 8, Device::kCpu);
      auto cpu_f = make_step_runner(f32, B, 40, ExecutionMode::kCompiled, 8, Device::kCpu);
      const std::vector<float> want = run_steps(*cpu_q, B, 7, 10, V), fp32 = run_steps(*cpu_f, B, 7, 10, V);
      for (bool graphs : {true, false}) {
        CudaStepRunner gpu(q, B, 40, {Storage::kF32, graphs, 8});
        const std::vector<float> got = run_steps(gpu, B, 7, 10, V);
        const double gap = max_rel_gap(got, want), gap_f32 = max_rel_gap(got, fp32);
        std::cout << "[ cuda quant model ] " << preset << " " << format << (graphs ? " graphs" : " eager")
                  << ": max |gpu - cpu quantized| / max|logit| = " << gap << " (vs fp32: " << gap_f32 << ")\n";
        EXPECT_LT(gap, 1e-3) << preset << " " << format;
        EXPECT_GT(gap_f32, 10 * gap) << preset << " " << format << ": the GPU did not run the quantized weights";
      }
    }
}

// Issue 20's device check: a quantized Llama-shaped model (SmolLM2-135M: 30 layers, 9 / 3 heads, random weights)
// generates the CPU quantized path's greedy tokens on the GPU (eager and compiled, a left-padded batch), and the
// device holds the packed bytes instead of fp32 linears.
TEST(CudaQuant, SmolLM2ShapeQuantizedGreedyEqualsCpuQuantized) {
  SKIP_WITHOUT_GPU();
  Rows ids = ids_rows(2, 12, 49152, 7), mask(2, std::vector<int32_t>(12, 1));
  mask[1][0] = mask[1][1] = mask[1][2] = 0;
  GenerationConfig cfg;
  cfg.max_new_tokens = 32;
  cfg.eos_token_id = {};
  cfg.pad_token_id = 0;
  for (const char* format : {"int8", "int4"}) {
    const Model m = with_format("smollm2-135m", format, 1);
    const GenerateOutput want = generate(m, GenerateInput{ids, mask}, cfg, nullptr, ExecutionMode::kCompiled);
    setenv("JITGEN_DEVICE", "cuda", 1);
    for (ExecutionMode mode : {ExecutionMode::kEager, ExecutionMode::kCompiled}) {
      const bool equal = generate(m, GenerateInput{ids, mask}, cfg, nullptr, mode).sequences == want.sequences;
      std::cout << "[ cuda quant greedy ] smollm2-135m " << format << (mode == ExecutionMode::kEager ? " eager" : " compiled")
                << ": " << (equal ? "PASS" : "FAIL") << " (32 tokens x 2 rows = CPU quantized)\n";
      EXPECT_TRUE(equal) << format;
    }
    unsetenv("JITGEN_DEVICE");
    const size_t bytes = CudaModelState::of(m.impl()).weights(Storage::kF32).bytes();
    std::cout << "[ cuda quant greedy ] smollm2-135m " << format << ": " << bytes / (1 << 20) << " MiB on the device\n";
    // fp32 would be ~540 MB; the tied embedding (113 MB) stays fp32 and the int8 linears take ~110 MB.
    EXPECT_LT(bytes, 300u << 20) << format;
  }
}

// ---- grouped-query decode attention ----

struct AttnCase {
  int64_t H, KV, D, S, window;
};

TEST(CudaGqa, GroupedDecodeEqualsTheCpuReferenceAndThePerHeadKernel) {
  SKIP_WITHOUT_GPU();
  const AttnCase cases[] = {{8, 4, 64, 40, 0},     {8, 2, 64, 300, 0},   {8, 1, 64, 300, 0},  {12, 3, 80, 1000, 0},
                            {32, 4, 64, 2048, 0},  {32, 8, 128, 700, 0}, {16, 1, 128, 513, 0}, {9, 3, 64, 4096, 0},
                            {8, 2, 64, 300, 17},   {32, 4, 64, 2048, 100}, {4, 2, 256, 900, 0}, {6, 2, 48, 64, 0}};
  const int64_t B = 3;
  uint32_t seed = 40;
  for (const AttnCase& c : cases) {
    const int64_t C = c.H * c.D, KVC = c.KV * c.D;
    std::vector<float> q = randn(B * C, seed++), k = randn(B * KVC, seed++), v = randn(B * KVC, seed++),
                       kc = randn(B * KVC * c.S, seed++), vc = randn(B * KVC * c.S, seed++);
    std::vector<int32_t> pos = {static_cast<int32_t>(c.S - 1), static_cast<int32_t>(c.S / 2), 0};
    std::vector<int32_t> mask(B * c.S, 1);
    for (int64_t j = 0; j < c.S; j += 7) mask[c.S + j] = 0;  // holes in row 1 (left pads, finished beams)
    for (int64_t b = 0; b < B; ++b) mask[b * c.S + pos[b]] = 1;            // the decode slot is visible
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.D));
    std::vector<float> want(B * C), kc_ref = kc, vc_ref = vc;
    cpu::AttentionShape shape{B, 1, c.S, c.H, c.D};
    shape.KV = c.KV;
    shape.window = c.window;
    ref::attention_qkv({q.data(), k.data(), v.data(), C, KVC, KVC}, kc_ref.data(), vc_ref.data(), pos.data(),
                       mask.data(), shape, scale, want.data());
    cuda::AttentionDims d{B, 1, c.S, c.H, c.D};
    d.KV = c.KV;
    d.window = c.window;
    std::vector<float> outs[2];
    for (bool grouped : {true, false}) {
      d.grouped = grouped;
      cuda::DeviceBuffer dq = upload(Storage::kF32, q), dk = upload(Storage::kF32, k), dv = upload(Storage::kF32, v),
                         dkc = upload(Storage::kF32, kc), dvc = upload(Storage::kF32, vc), out(B * C * 4),
                         dpos(4 * B), dmask(4 * B * c.S), ws(std::max<size_t>(cuda::attention_workspace_bytes(d), 16));
      JITGEN_CUDA_CHECK(cudaMemcpy(dpos.data(), pos.data(), 4 * B, cudaMemcpyHostToDevice));
      JITGEN_CUDA_CHECK(cudaMemcpy(dmask.data(), mask.data(), 4 * B * c.S, cudaMemcpyHostToDevice));
      cuda::attention_qkv(Storage::kF32, {dq.data(), dk.data(), dv.data(), C, KVC, KVC}, dkc.data(), dvc.data(),
                          dpos.as<int32_t>(), dmask.as<int32_t>(), d, scale, out.data(), ws.data(), nullptr);
      outs[grouped] = download(Storage::kF32, out.data(), want.size());
      EXPECT_EQ(download(Storage::kF32, dkc.data(), kc.size()), kc_ref) << "k cache";
      EXPECT_EQ(download(Storage::kF32, dvc.data(), vc.size()), vc_ref) << "v cache";
    }
    const std::string what = "H=" + std::to_string(c.H) + " KV=" + std::to_string(c.KV) + " D=" +
                             std::to_string(c.D) + " S=" + std::to_string(c.S) + " window=" + std::to_string(c.window);
    double gap = 0, gap_heads = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      gap = std::max(gap, double{std::fabs(outs[1][i] - want[i])});
      gap_heads = std::max(gap_heads, double{std::fabs(outs[1][i] - outs[0][i])});
    }
    std::cout << "[ cuda gqa ] " << what << " (group " << c.H / c.KV << "): max |grouped - cpu ref| = " << gap
              << ", max |grouped - per-head kernel| = " << gap_heads << "\n";
    EXPECT_LT(gap, 1e-5) << what;
    EXPECT_LT(gap_heads, 1e-5) << what;
  }
}

}  // namespace
}  // namespace jitgen
