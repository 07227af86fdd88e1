// The CUDA backend (JITGEN_CUDA builds only). Host logic is tested everywhere; everything that launches a
// kernel skips (GTEST_SKIP) when cudaGetDeviceCount reports no device. On a GPU (scripts/device-check.sh):
// fp32 logits within 1e-4 of CPU eager (GPT-2 and every other family), fp16/bf16 within stated tolerances, HF golden
// greedy/beam tokens (GPT-2, Llama, Mistral, Qwen2, OPT),
// same seed => same sampled tokens as the CPU, the whole greedy loop as one graph, allocation-free decode.
#include <gtest/gtest.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>

#include "generate/loop.h"
#include "generate/sampling.h"
#include "jitgen/generate.h"
#include "jitgen/tokenizer.h"
#include "exec/cuda/cuda_step_runner.h"
#include "models/model_impl.h"
#include "ops/cuda/gemm.h"
#include "ops/cuda/philox.cuh"
#include "test_support.h"

namespace jitgen {
namespace {

using Rows = std::vector<std::vector<int32_t>>;
using cuda::Storage;

#define SKIP_WITHOUT_GPU() \
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device (cudaGetDeviceCount = 0)"

// ---- host logic (runs on every machine) ----

TEST(CudaHost, LtLayoutMapsRowMajorLinearsToColumnMajor) {
  const cuda::LtLayout a = cuda::lt_layout(/*M=*/5, /*K=*/64, /*N=*/192, /*w_transposed=*/false);
  EXPECT_EQ(a.m, 192);
  EXPECT_EQ(a.n, 5);
  EXPECT_EQ(a.k, 64);
  EXPECT_FALSE(a.transpose_a);
  EXPECT_EQ(a.lda, 192);  // w [K, N] row-major: leading dimension N
  EXPECT_EQ(a.ldb, 64);
  EXPECT_EQ(a.ldd, 192);
  const cuda::LtLayout t = cuda::lt_layout(5, 64, 1000, true);  // lm_head: wte [V, C]
  EXPECT_TRUE(t.transpose_a);
  EXPECT_EQ(t.lda, 64);
  EXPECT_EQ(t.m, 1000);
}

TEST(CudaHost, AttentionSplitCoversEveryKeyOnce) {
  const cuda::AttentionSplit prefill = cuda::attention_split({2, 16, 256, 12, 64});
  EXPECT_EQ(prefill.chunks, 1);
  EXPECT_EQ(prefill.chunk_keys, 256);
  EXPECT_EQ(cuda::attention_workspace_bytes({2, 16, 256, 12, 64}), 0u);
  for (int64_t B : {1, 8, 32})
    for (int64_t S : {64, 128, 1000, 1024}) {
      const cuda::AttentionDims d{B, 1, S, 12, 64};
      const cuda::AttentionSplit s = cuda::attention_split(d);
      EXPECT_GE(s.chunk_keys, std::min<int64_t>(64, S));
      EXPECT_GE(int64_t{s.chunks} * s.chunk_keys, S);
      EXPECT_LT(int64_t{s.chunks - 1} * s.chunk_keys, S);
      EXPECT_EQ(cuda::attention_workspace_bytes(d) == 0, s.chunks == 1);
    }
  EXPECT_GT(cuda::attention_split({1, 1, 1024, 12, 64}).chunks, 1);  // batch 1, long cache: flash-decoding
}

TEST(CudaHost, StorageNamesRoundTrip) {
  for (Storage s : {Storage::kF32, Storage::kF16, Storage::kBF16})
    EXPECT_EQ(cuda::parse_storage(cuda::storage_name(s)), s);
  EXPECT_THROW(cuda::parse_storage("f8"), Error);
}

TEST(CudaHost, DevicePhiloxIsTheCpuStream) {
  for (uint32_t seed : {0u, 7u, 0xdeadbeefu})
    for (uint32_t step = 0; step < 5; ++step)
      for (uint32_t row = 0; row < 9; ++row) {
        const uint32_t key[2] = {seed, seed ^ 0x1234u};
        EXPECT_EQ(cuda::philox_uniform_dev(key[0], key[1], step, row, 0), decoding::philox_uniform(key, step, row));
      }
}

// ---- on a GPU ----

Rows ids_rows(int B, int T, int V, int salt) {
  Rows r(B, std::vector<int32_t>(T));
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) r[b][t] = (977 * b + 131 * t + salt) % V;
  return r;
}

// Prefill (all positions, one left-padded row) then `decodes` decode steps; returns every logit in order.
std::vector<float> run_steps(StepRunner& r, const Model& m, int B, int T, int decodes) {
  const int V = m.info().vocab_size;
  Rows ids = ids_rows(B, T, V, 3), mask(B, std::vector<int32_t>(T, 1)), pos(B, std::vector<int32_t>(T));
  if (B > 1) mask[1][0] = mask[1][1] = 0;  // row 1 is left-padded by two
  std::vector<int32_t> next(B);
  for (int b = 0; b < B; ++b) next[b] = prompt_positions(mask[b], pos[b]);
  std::vector<float> all;
  const Tensor first = r.step(ids, pos, mask, false);
  all.insert(all.end(), first.f32(), first.f32() + first.numel());
  std::vector<int32_t> tok(B);
  for (int s = 0; s < decodes; ++s) {
    for (int b = 0; b < B; ++b) tok[b] = (53 * s + 7 * b + 1) % V;
    const Tensor& l = r.decode(tok.data(), next.data());
    all.insert(all.end(), l.f32(), l.f32() + l.numel());
    for (int32_t& p : next) ++p;
  }
  return all;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::abs(double{a[i]} - b[i]));
  return d;
}

TEST(Cuda, Fp32LogitsMatchCpuEagerInBothModes) {
  SKIP_WITHOUT_GPU();
  const Model m = Model::random_preset("tiny", 3);
  for (int B : {1, 3}) {
    auto cpu = make_step_runner(m, B, 40, ExecutionMode::kEager, 8, Device::kCpu);
    const std::vector<float> want = run_steps(*cpu, m, B, 5, 12);
    for (bool graphs : {true, false}) {
      CudaStepRunner gpu(m, B, 40, {Storage::kF32, graphs, 8});
      const double d = max_abs_diff(run_steps(gpu, m, B, 5, 12), want);
      EXPECT_LT(d, 1e-4) << "B=" << B << (graphs ? " graphs" : " eager");
    }
  }
}

TEST(Cuda, HalfStorageLogitsWithinTolerance) {
  SKIP_WITHOUT_GPU();
  const Model m = Model::random_preset("tiny", 3);
  auto cpu = make_step_runner(m, 2, 40, ExecutionMode::kEager, 8, Device::kCpu);
  const std::vector<float> want = run_steps(*cpu, m, 2, 6, 8);
  double scale = 0;
  for (float v : want) scale = std::max(scale, double{std::abs(v)});
  // fp16 keeps 11 mantissa bits, bf16 8: stated tolerances relative to the largest logit.
  for (auto [storage, rel] : {std::pair{Storage::kF16, 1e-2}, std::pair{Storage::kBF16, 5e-2}}) {
    CudaStepRunner gpu(m, 2, 40, {storage, true, 8});
    const double d = max_abs_diff(run_steps(gpu, m, 2, 6, 8), want);
    std::cout << "[ cuda ] " << cuda::storage_name(storage) << " max |logit - cpu fp32| = " << d << " (max |logit| "
              << scale << ")\n";
    EXPECT_LT(d, rel * scale) << cuda::storage_name(storage);
  }
}

TEST(Cuda, DecodeReplaysOneGraphAndAllocatesNothing) {
  SKIP_WITHOUT_GPU();
  const Model m = Model::random_preset("tiny", 2);
  CudaStepRunner gpu(m, 4, 64, {Storage::kF32, true, 8});
  run_steps(gpu, m, 4, 8, 1);  // prefill + first decode: plans bound, graph captured
  const int64_t allocs = cuda::device_allocation_count(), launches = gpu.graph_launches();
  std::vector<int32_t> tok(4, 5), pos(4, 20);
  for (int i = 0; i < 10; ++i) gpu.decode(tok.data(), pos.data());
  EXPECT_EQ(gpu.graph_launches(), launches + 10);
  EXPECT_EQ(cuda::device_allocation_count(), allocs);
}

TEST(Cuda, WholeGreedyLoopIsOneGraphAndMatchesCpuGreedy) {
  SKIP_WITHOUT_GPU();
  const Model m = Model::random_preset("tiny", 4);
  const int B = 3, T = 6, N = 24;
  GenerateInput in{ids_rows(B, T, m.info().vocab_size, 11), {}};
  GenerationConfig cfg;
  cfg.max_new_tokens = N;
  cfg.eos_token_id = {};
  cfg.pad_token_id = 0;
  GenerateOptions cpu_opt;
  const GenerateOutput want = generate(m, in, cfg, cpu_opt);
  for (bool graphs : {true, false}) {
    CudaStepRunner gpu(m, B, T + N, {Storage::kF32, graphs, 8});
    Rows pos(B, std::vector<int32_t>(T)), mask(B, std::vector<int32_t>(T, 1));
    std::vector<int32_t> next(B);
    for (int b = 0; b < B; ++b) next[b] = prompt_positions(mask[b], pos[b]);
    gpu.step(in.input_ids, pos, mask, true);
    int streamed = 0;
    GreedyLoopOptions o;
    o.max_new_tokens = N;
    o.on_step = [&](int step, const int32_t*) { EXPECT_EQ(step, streamed++); };
    const GreedyLoopResult got = gpu.greedy_loop(next, o);
    EXPECT_EQ(got.one_graph, graphs);
    EXPECT_EQ(got.steps, N);
    EXPECT_EQ(streamed, N);
    for (int b = 0; b < B; ++b) {
      const std::vector<int32_t> tail(want.sequences[b].begin() + T, want.sequences[b].end());
      EXPECT_EQ(got.tokens[b], tail) << "row " << b << (graphs ? " one graph" : " per step");
    }
  }
}

TEST(Cuda, DeviceSamplerAndArgmaxFollowTheCpuRules) {
  SKIP_WITHOUT_GPU();
  const int R = 4, V = 3001;
  std::vector<float> logits(R * V);
  for (int i = 0; i < R * V; ++i) logits[i] = std::sin(0.37f * i) * 4.0f;
  logits[2 * V + 17] = NAN;  // argmax: a NaN wins
  cuda::DeviceBuffer dl(logits.size() * 4), dt(4 * R);
  cudaMemcpy(dl.data(), logits.data(), logits.size() * 4, cudaMemcpyHostToDevice);
  std::vector<int32_t> tok(R);
  cuda::argmax_rows(dl.as<float>(), R, V, dt.as<int32_t>(), nullptr);
  cudaMemcpy(tok.data(), dt.data(), 4 * R, cudaMemcpyDeviceToHost);
  for (int r = 0; r < R; ++r) EXPECT_EQ(tok[r], decoding::argmax_row(&logits[r * V], V)) << r;
  logits[2 * V + 17] = 0;
  cudaMemcpy(dl.data(), logits.data(), logits.size() * 4, cudaMemcpyHostToDevice);
  const uint32_t seed[2] = {42, 7};
  for (uint32_t step = 0; step < 20; ++step) {
    cuda::sample_rows(dl.as<float>(), R, V, 0.8f, seed[0], seed[1], step, dt.as<int32_t>(), nullptr);
    cudaMemcpy(tok.data(), dt.data(), 4 * R, cudaMemcpyDeviceToHost);
    for (int r = 0; r < R; ++r) {
      std::vector<float> row(logits.begin() + r * V, logits.begin() + (r + 1) * V);
      for (float& v : row) v /= 0.8f;
      EXPECT_EQ(tok[r], decoding::sample_row(row.data(), V, decoding::philox_uniform(seed, step, r)))
          << "step " << step << " row " << r;
    }
  }
}

// The families beside GPT-2 (rms_norm, mul, rope, attention_qkv with GQA / MQA / sliding windows; OPT's layer norms,
// ReLU and learned positions) on the GPU: fp32 logits within 1e-4 of CPU eager, prefill with a left-padded row and
// decode steps, with and without CUDA graphs.
TEST(Cuda, FamilyPresetsFp32LogitsMatchCpuEager) {
  SKIP_WITHOUT_GPU();
  for (const char* preset : {"llama-tiny", "mistral-tiny", "qwen2-tiny", "opt-tiny", "opt-tiny-postln"}) {
    const Model m = Model::random_preset(preset, 5);
    for (int B : {1, 3}) {
      auto cpu = make_step_runner(m, B, 48, ExecutionMode::kEager, 8, Device::kCpu);
      const std::vector<float> want = run_steps(*cpu, m, B, 9, 20);  // mistral-tiny's window (16) is passed
      for (bool graphs : {true, false}) {
        CudaStepRunner gpu(m, B, 48, {Storage::kF32, graphs, 8});
        EXPECT_LT(max_abs_diff(run_steps(gpu, m, B, 9, 20), want), 1e-4)
            << preset << " B=" << B << (graphs ? " graphs" : " eager");
      }
    }
  }
}

TEST(Cuda, FamilyHalfStorageLogitsWithinTolerance) {
  SKIP_WITHOUT_GPU();
  for (const char* preset : {"llama-tiny", "opt-tiny-postln"}) {
    const Model m = Model::random_preset(preset, 6);
    auto cpu = make_step_runner(m, 2, 40, ExecutionMode::kEager, 8, Device::kCpu);
    const std::vector<float> want = run_steps(*cpu, m, 2, 6, 8);
    double scale = 0;
    for (float v : want) scale = std::max(scale, double{std::abs(v)});
    for (auto [storage, rel] : {std::pair{Storage::kF16, 1e-2}, std::pair{Storage::kBF16, 5e-2}}) {
      CudaStepRunner gpu(m, 2, 40, {storage, true, 8});
      const double d = max_abs_diff(run_steps(gpu, m, 2, 6, 8), want);
      std::cout << "[ cuda ] " << preset << " " << cuda::storage_name(storage) << " max |logit - cpu fp32| = " << d
                << " (max |logit| " << scale << ")\n";
      EXPECT_LT(d, rel * scale) << preset << " " << cuda::storage_name(storage);
    }
  }
}

// A real Llama shape (SmolLM2-135M: 30 layers, 9 query / 3 KV heads, tied head, random weights): greedy tokens on
// the GPU (fp32, one-graph loop and per-step) equal CPU fp32 compiled, for a batch with a left-padded row.
TEST(Cuda, SmolLM2ShapeGreedyEqualsCpuFp32) {
  SKIP_WITHOUT_GPU();
  const Model m = Model::random_preset("smollm2-135m", 1);
  Rows ids = ids_rows(2, 12, m.info().vocab_size, 7), mask(2, std::vector<int32_t>(12, 1));
  mask[1][0] = mask[1][1] = mask[1][2] = 0;
  GenerationConfig cfg;
  cfg.max_new_tokens = 32;
  cfg.eos_token_id = {};
  cfg.pad_token_id = 0;
  const GenerateOutput want = generate(m, GenerateInput{ids, mask}, cfg, nullptr, ExecutionMode::kCompiled);
  setenv("JITGEN_DEVICE", "cuda", 1);
  struct Unset {
    ~Unset() { unsetenv("JITGEN_DEVICE"); }
  } unset;
  for (ExecutionMode mode : {ExecutionMode::kEager, ExecutionMode::kCompiled})
    EXPECT_EQ(generate(m, GenerateInput{ids, mask}, cfg, nullptr, mode).sequences, want.sequences)
        << (mode == ExecutionMode::kEager ? "eager" : "compiled");
}

// Every llama / mistral / qwen2 / opt HF golden (dynamic / llama3 / yarn rope, GQA 1-4, MQA, windows shorter than
// the generation, F16 / BF16 checkpoints) greedy, left-padded greedy batch and beam, with generate() on the GPU:
// token-exact with HF, hence with CPU fp32.
TEST(Cuda, FamilyGoldensAreTokenExactOnTheGpu) {
  SKIP_WITHOUT_GPU();
  setenv("JITGEN_DEVICE", "cuda", 1);
  struct Unset {
    ~Unset() { unsetenv("JITGEN_DEVICE"); }
  } unset;
  const int64_t before = CudaStepRunner::instances();
  int equal = 0, total = 0;
  for (const char* fixture : {"llama_goldens.json", "opt_goldens.json"}) {
    const nlohmann::json doc = test::load_fixture(fixture);
    for (const auto& c : doc["cases"]) {
      test::TempDir dir;
      std::string cmd = "make-model --out '" + dir.path() + "'";
      for (const auto& a : c["make_model_args"]) cmd += " '" + a.get<std::string>() + "'";
      ASSERT_EQ(test::run_cli(cmd).exit_code, 0) << cmd;
      const Model m = Model::from_dir(dir.path());
      GenerationConfig cfg;
      cfg.max_new_tokens = c["max_new_tokens"].get<int>();
      cfg.eos_token_id = {c["eos_token_id"].get<int32_t>()};
      cfg.pad_token_id = c["eos_token_id"].get<int32_t>();
      for (ExecutionMode mode : {ExecutionMode::kEager, ExecutionMode::kCompiled}) {
        const std::string tag = c["name"].get<std::string>() + (mode == ExecutionMode::kEager ? " eager" : " compiled");
        auto check = [&](const Rows& got, const nlohmann::json& want, const char* what) {
          EXPECT_EQ(got, want.get<Rows>()) << tag << " " << what;
          equal += got == want.get<Rows>(), ++total;
        };
        for (const auto& g : c["greedy"])
          check(generate(m, GenerateInput{{g["input_ids"].get<std::vector<int32_t>>()}, {}}, cfg, nullptr, mode)
                    .sequences,
                nlohmann::json::array({g["sequence"]}), "greedy");
        const auto& gb = c["greedy_batch"];
        check(generate(m, GenerateInput{gb["input_ids"].get<Rows>(), gb["attention_mask"].get<Rows>()}, cfg, nullptr,
                       mode)
                  .sequences,
              gb["sequences"], "left-padded greedy batch");
        GenerationConfig beam = cfg;
        beam.num_beams = beam.num_return_sequences = c["beam"]["num_beams"].get<int>();
        beam.max_new_tokens = c["beam"]["max_new_tokens"].get<int>();
        for (const auto& run : c["beam"]["runs"])
          check(generate(m, GenerateInput{{run["input_ids"].get<std::vector<int32_t>>()}, {}}, beam, nullptr, mode)
                    .sequences,
                run["sequences"], "beam");
      }
    }
  }
  std::cout << "[ cuda family goldens ] " << equal << " of " << total << " HF runs token-exact on the GPU\n";
  EXPECT_GT(CudaStepRunner::instances(), before) << "generate() did not reach the CUDA runner";
}

// generate() on the GPU through JITGEN_DEVICE=cuda: the HF goldens (greedy, processors, beams, left pads) and
// seeded sampling must give the CPU's tokens.
class CudaGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device (cudaGetDeviceCount = 0)";
    doc_ = test::load_fixture("generation_goldens.json");
    for (const auto& [name, args] : doc_["models"].items()) {
      dirs_[name] = std::make_unique<test::TempDir>();
      std::string cmd = "make-model --out '" + dirs_[name]->path() + "'";
      for (const auto& a : args) cmd += " " + a.get<std::string>();
      ASSERT_EQ(test::run_cli(cmd).exit_code, 0);
      models_.emplace(name, Model::from_dir(dirs_[name]->path()));
      if (std::find(args.begin(), args.end(), "--with-tokenizer") != args.end())
        tokenizers_.emplace(name, Tokenizer::from_dir(dirs_[name]->path()));
    }
    setenv("JITGEN_DEVICE", "cuda", 1);
  }
  void TearDown() override { unsetenv("JITGEN_DEVICE"); }

  GenerateOutput run(const nlohmann::json& c, const nlohmann::json& config, ExecutionMode mode) {
    const std::string name = c["model"];
    const Model& m = models_.at(name);
    GenerateOptions o;
    o.mode = mode;
    auto tok = tokenizers_.find(name);
    o.tokenizer = tok == tokenizers_.end() ? nullptr : &tok->second;
    const Rows mask = c.contains("attention_mask") ? c["attention_mask"].get<Rows>() : Rows{};
    return generate(m, GenerateInput{c["input_ids"].get<Rows>(), mask},
                    resolve_generation_config(m.impl().generation_defaults, config), o);
  }

  nlohmann::json doc_;
  std::map<std::string, std::unique_ptr<test::TempDir>> dirs_;
  std::map<std::string, Model> models_;
  std::map<std::string, Tokenizer> tokenizers_;
};

TEST_F(CudaGolden, GreedyAndBeamCasesAreTokenExact) {
  const int64_t before = CudaStepRunner::instances();
  int equal = 0, total = 0;
  for (ExecutionMode mode : {ExecutionMode::kEager, ExecutionMode::kCompiled})
    for (const auto& c : doc_["cases"]) {
      ++total;
      const GenerateOutput out = run(c, c["config"], mode);
      EXPECT_EQ(out.sequences, c["sequences"].get<Rows>()) << c["name"] << " " << c["config"].dump();
      equal += out.sequences == c["sequences"].get<Rows>();
    }
  std::cout << "[ cuda goldens ] " << equal << " of " << total << " HF cases token-exact on the GPU\n";
  EXPECT_GT(CudaStepRunner::instances(), before) << "generate() did not reach the CUDA runner";
}

TEST_F(CudaGolden, SameSeedSameSampledTokensAsCpu) {
  for (const auto& c : doc_["sampling"]) {
    nlohmann::json config = c["config"];
    for (uint32_t seed : {1u, 2u, 3u}) {
      config["seed"] = {seed, 0};
      const GenerateOutput gpu = run(c, config, ExecutionMode::kCompiled);
      unsetenv("JITGEN_DEVICE");
      const GenerateOutput cpu = run(c, config, ExecutionMode::kEager);
      setenv("JITGEN_DEVICE", "cuda", 1);
      EXPECT_EQ(gpu.sequences, cpu.sequences) << c["name"] << " seed " << seed;
    }
  }
}

}  // namespace
}  // namespace jitgen
