// The Llama family's kernels (GQA / MQA / sliding-window attention, rope, rms_norm) against their scalar references,
// and the family's bad-input errors. Its HF goldens run in family_goldens_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <tuple>

#include <fmt/format.h>

#include "jitgen/error.h"
#include "jitgen/generate.h"
#include "jitgen/model.h"
#include "models/llama/config.h"
#include "models/model_impl.h"
#include "ops/cpu_kernels.h"
#include "ops/reference.h"
#include "test_support.h"

namespace jitgen {
namespace {

using nlohmann::json;

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (float& x : v) x = d(g);
  return v;
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// GQA / MQA / sliding window at odd shapes: the dispatched kernel (AVX-512 or portable, per JITGEN_SIMD) against the
// scalar reference, and GQA against plain multi-head attention over K/V heads repeated per group (HF repeat_kv).
TEST(LlamaKernels, AttentionQkvMatchesReferenceAndRepeatKv) {
  for (auto [H, KV, D, window] : {std::tuple{4, 2, 16, 0}, {6, 1, 24, 0}, {8, 2, 32, 5}, {3, 3, 7, 3}, {4, 4, 64, 0}}) {
    const int64_t B = 2, T = 5, S = 23;
    const cpu::AttentionShape s{B, T, S, H, D, KV, window};
    const auto q = randn(B * T * H * D, 1), k = randn(B * T * KV * D, 2), v = randn(B * T * KV * D, 3);
    std::vector<int32_t> pos = {3, 9}, mask(B * S, 1);
    mask[2] = 0;  // a pad inside row 0's history
    const auto past_k = randn(B * KV * S * D, 4), past_v = randn(B * KV * S * D, 5);
    std::vector<float> kc = past_k, vc = past_v, kc_ref = past_k, vc_ref = past_v;
    std::vector<float> out(B * T * H * D), out_ref(out.size());
    const cpu::AttentionInputs in{q.data(), k.data(), v.data(), H * D, KV * D, KV * D};
    cpu::attention_qkv(in, kc.data(), vc.data(), pos.data(), mask.data(), s, 0.25f, out.data());
    ref::attention_qkv(in, kc_ref.data(), vc_ref.data(), pos.data(), mask.data(), s, 0.25f, out_ref.data());
    EXPECT_LE(max_diff(out, out_ref), 1e-5) << H << "/" << KV << " D=" << D << " window=" << window;
    EXPECT_EQ(kc, kc_ref);
    // repeat_kv: the same attention with every query head owning a copy of its KV head.
    std::vector<float> k_rep(B * T * H * D), v_rep(k_rep.size()), kc_rep(B * H * S * D), vc_rep(kc_rep.size());
    const int64_t G = H / KV;
    for (int64_t r = 0; r < B * T; ++r)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < D; ++d) {
          k_rep[(r * H + h) * D + d] = k[(r * KV + h / G) * D + d];
          v_rep[(r * H + h) * D + d] = v[(r * KV + h / G) * D + d];
        }
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < S * D; ++i) {
          kc_rep[(b * H + h) * S * D + i] = past_k[(b * KV + h / G) * S * D + i];
          vc_rep[(b * H + h) * S * D + i] = past_v[(b * KV + h / G) * S * D + i];
        }
    std::vector<float> out_rep(out.size());
    cpu::AttentionShape mha = s;
    mha.KV = H;
    ref::attention_qkv({q.data(), k_rep.data(), v_rep.data(), H * D, H * D, H * D}, kc_rep.data(), vc_rep.data(),
                       pos.data(), mask.data(), mha, 0.25f, out_rep.data());
    EXPECT_LE(max_diff(out_ref, out_rep), 1e-6);
  }
}

TEST(LlamaKernels, RopeAndRmsNormMatchReference) {
  for (auto [heads, D, rotary] : {std::tuple{3, 16, 16}, {2, 24, 12}, {5, 64, 64}}) {
    const int64_t rows = 7;
    const auto x = randn(rows * heads * D, 7);
    std::vector<int32_t> pos = {0, 1, 5, 17, 2, 40, 3};
    std::vector<float> inv(rotary / 2);
    for (int i = 0; i < rotary / 2; ++i) inv[i] = 1.0f / std::pow(10000.0f, 2.0f * i / rotary);
    std::vector<float> out(x.size()), out_ref(x.size());
    for (const cpu::RopeDynamic dyn : {cpu::RopeDynamic{}, cpu::RopeDynamic{10000.0f, 2.0f, 8}}) {
      cpu::rope(x.data(), pos.data(), inv.data(), {rows, heads, D, rotary}, 1.1f, dyn, out.data());
      ref::rope(x.data(), pos.data(), inv.data(), {rows, heads, D, rotary}, 1.1f, dyn, out_ref.data());
      EXPECT_LE(max_diff(out, out_ref), 2e-5) << heads << "x" << D << " rotary " << rotary;
    }
  }
  const auto x = randn(5 * 37, 9), gamma = randn(37, 10);
  std::vector<float> out(x.size()), out_ref(x.size());
  cpu::rms_norm(x.data(), gamma.data(), 1e-5f, 5, 37, out.data());
  ref::rms_norm(x.data(), gamma.data(), 1e-5f, 5, 37, out_ref.data());
  EXPECT_LE(max_diff(out, out_ref), 1e-5);
}

// Bad input: one line naming the file / field and what was expected.
void expect_config_error(const std::string& text, const std::string& fragment) {
  try {
    (void)llama::parse_llama_config(json::parse(text), "m/config.json");
    ADD_FAILURE() << "no error for " << text;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFile);
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("m/config.json"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

TEST(LlamaErrors, ConfigErrorsNameTheFieldAndTheExpectation) {
  expect_config_error(R"({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 3})",
                      "\"hidden_size\" (64) must be divisible by \"num_attention_heads\" (3)");
  expect_config_error(R"({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 3})",
                      "\"num_key_value_heads\" (3) must divide \"num_attention_heads\" (4)");
  expect_config_error(R"({"model_type": "llama", "rope_scaling": {"rope_type": "longrope", "factor": 2.0}})",
                      "\"rope_scaling.rope_type\" is \"longrope\", which jitgen does not implement");
  expect_config_error(R"({"model_type": "llama", "rope_scaling": {"rope_type": "linear"}})",
                      "\"rope_scaling.factor\" is missing");
  expect_config_error(R"({"model_type": "llama", "hidden_act": "mish2"})", "\"hidden_act\" is unknown activation");
}

TEST(LlamaErrors, MissingTensorAndWrongShapeNameTheFile) {
  test::TempDir tmp;
  const auto r = test::run_cli("make-model --out '" + tmp.path() +
                               "' --family llama --config llama-tiny --n-layer 1 --vocab-size 300");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Declare 2 layers: layer 1's tensors are missing.
  json cfg = json::parse(test::read_file(tmp.file("config.json")));
  cfg["num_hidden_layers"] = 2;
  test::write_file(tmp.file("config.json"), cfg.dump());
  try {
    (void)Model::from_dir(tmp.path());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor \"model.layers.1.input_layernorm.weight\""),
              std::string::npos) << e.what();
  }
  cfg["num_hidden_layers"] = 1;
  cfg["intermediate_size"] = 256;
  test::write_file(tmp.file("config.json"), cfg.dump());
  try {
    (void)Model::from_dir(tmp.path());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors: tensor \"model.layers.0.mlp.gate_proj.weight\" has shape "
                                         "[128, 64], expected [256, 64]"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace jitgen
