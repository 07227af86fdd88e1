// The built-in default model kjv-llama-5m (models/kjv-llama-5m) against the HF oracle, eager and compiled:
// tokenizer ids, logits at a few positions (one prompt and a left-padded batch) within 1e-4, greedy tokens (single
// prompts and a left-padded batch) and beam search token-exact, and the held-out perplexity of two held-out chapters
// within 1e-3 (tests/fixtures/demo_model_goldens.json, scripts/goldens_demo_model.py). Plus its SHA256SUMS check at
// load, and how closely bf16 / int8 / int4 weights follow HF's fp32 greedy paths (thresholds from measurements).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "io/sha256sums.h"
#include "jitgen/error.h"
#include "jitgen/generate.h"
#include "jitgen/model.h"
#include "jitgen/perplexity.h"
#include "jitgen/tokenizer.h"
#include "ops/prepared_weights.h"
#include "test_support.h"

namespace jitgen {
namespace {

using nlohmann::json;

const json& goldens() {
  static const json* g = new json(test::load_fixture("demo_model_goldens.json"));
  return *g;
}

const Model& model() {  // fp32 panels (the bf16 file widened), as HF computes with dtype=torch.float32
  static const Model* m = [] {
    const cpu::ScopedWeightFormat fp32(cpu::parse_weight_format("f32", "test"));
    return new Model(Model::builtin_default());
  }();
  return *m;
}

std::vector<std::vector<int32_t>> rows(const json& j) { return j.get<std::vector<std::vector<int32_t>>>(); }

GenerationConfig greedy(int max_new_tokens) {
  GenerationConfig cfg;
  cfg.max_new_tokens = max_new_tokens;
  cfg.eos_token_id = {goldens()["eos_token_id"].get<int32_t>()};
  cfg.pad_token_id = goldens()["eos_token_id"].get<int32_t>();
  return cfg;
}

// The goldens were made from the weights in the tree (else regenerate them: scripts/goldens_demo_model.py).
TEST(DemoModel, GoldensAreOfTheCommittedWeightsWhichPassTheirSha256Check) {
  const std::string dir = Model::builtin_default_dir();  // throws if SHA256SUMS does not match
  EXPECT_EQ(io::sha256_file(dir + "/model.safetensors"), goldens()["model_safetensors_sha256"].get<std::string>());
  EXPECT_EQ(model().info().model_type, "llama");
  EXPECT_EQ(model().info().vocab_size, goldens()["vocab_size"].get<int>());
  EXPECT_EQ(model().info().n_kv_head * 2, model().info().n_head);  // grouped-query attention
}

TEST(DemoModel, TokenizerIdsMatchHf) {
  const Tokenizer tok = Tokenizer::from_dir(Model::builtin_default_dir());
  for (const auto& t : goldens()["tokenized"])
    EXPECT_EQ(tok.encode(t["text"].get<std::string>()), t["input_ids"].get<std::vector<int32_t>>()) << t["text"];
}

// A corrupt copy of the folder is refused with one line naming the file.
TEST(DemoModel, Sha256MismatchIsAOneLineErrorNamingTheFile) {
  namespace fs = std::filesystem;
  const test::TempDir tmp;
  for (const auto& e : fs::directory_iterator(Model::builtin_default_dir()))
    fs::copy_file(e.path(), fs::path(tmp.path()) / e.path().filename());
  EXPECT_EQ(Model::builtin_default(tmp.path()).info().model_type, "llama");  // the intact copy loads
  {
    std::fstream f(tmp.file("model.safetensors"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-7, std::ios::end);  // a weight byte, not the header: from_dir alone would load the file
    const char c = static_cast<char>(f.get() ^ 0x01);
    f.seekp(-7, std::ios::end);
    f.put(c);
  }
  try {
    (void)Model::builtin_default(tmp.path());
    ADD_FAILURE() << "a changed model.safetensors was loaded";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFile);
    EXPECT_EQ(msg.rfind(tmp.file("model.safetensors") + ": sha256 is ", 0), 0u) << msg;
    EXPECT_NE(msg.find("SHA256SUMS line"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  test::write_file(tmp.file("SHA256SUMS"), "abc  config.json\n");
  try {
    (void)Model::builtin_default(tmp.path());
    ADD_FAILURE() << "a malformed SHA256SUMS was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("SHA256SUMS line 1: expected"), std::string::npos) << e.what();
  }
}

class DemoModelGolden : public ::testing::TestWithParam<ExecutionMode> {};

void expect_logits(const std::vector<float>& row, const json& g, const std::string& where) {
  const auto cols = g["cols"].get<std::vector<int>>();
  double worst = 0;
  for (size_t i = 0; i < cols.size(); ++i)
    worst = std::max(worst, std::abs(row[cols[i]] - g["values"][i].get<double>()));
  EXPECT_LE(worst, 1e-4) << where;
}

TEST_P(DemoModelGolden, LogitsMatchHf) {
  const int V = goldens()["vocab_size"];
  const auto& g = goldens()["logits"];
  const auto logits = model().forward_logits({g["input_ids"].get<std::vector<int32_t>>()}, {}, GetParam())[0];
  for (const auto& p : g["positions"]) {
    const int t = p["t"];
    expect_logits(std::vector<float>(logits.begin() + t * V, logits.begin() + (t + 1) * V), p, fmt::format("t={}", t));
  }
  const auto& pg = goldens()["padded_logits"];
  const auto padded = model().forward_logits(rows(pg["input_ids"]), rows(pg["attention_mask"]), GetParam());
  int checked = 0;
  for (const auto& p : pg["positions"]) {
    const int b = p["b"], t = p["t"];
    expect_logits(std::vector<float>(padded[b].begin() + t * V, padded[b].begin() + (t + 1) * V), p,
                  fmt::format("padded row {} t={}", b, t));
    ++checked;
  }
  EXPECT_GE(checked, 6);
}

TEST_P(DemoModelGolden, GreedyMatchesHf) {
  const auto& g = goldens()["greedy"];
  for (const auto& run : g["runs"]) {
    const GenerateOutput out = generate(model(), GenerateInput{{run["input_ids"].get<std::vector<int32_t>>()}, {}},
                                        greedy(g["max_new_tokens"]), nullptr, GetParam());
    EXPECT_EQ(out.sequences[0], run["sequence"].get<std::vector<int32_t>>()) << run["text"];
  }
  const auto& b = goldens()["greedy_batch"];
  const GenerateOutput out = generate(model(), GenerateInput{rows(b["input_ids"]), rows(b["attention_mask"])},
                                      greedy(g["max_new_tokens"]), nullptr, GetParam());
  EXPECT_EQ(out.sequences, rows(b["sequences"]));
}

TEST_P(DemoModelGolden, BeamSearchMatchesHf) {
  const auto& g = goldens()["beam"];
  GenerationConfig cfg = greedy(g["max_new_tokens"]);
  cfg.num_beams = g["num_beams"];
  cfg.num_return_sequences = g["num_return_sequences"];
  for (const auto& run : g["runs"]) {
    const GenerateOutput out =
        generate(model(), GenerateInput{{run["input_ids"].get<std::vector<int32_t>>()}, {}}, cfg, nullptr, GetParam());
    EXPECT_EQ(out.sequences, rows(run["sequences"]));
    ASSERT_EQ(out.sequences_scores.size(), run["sequences_scores"].size());
    for (size_t i = 0; i < out.sequences_scores.size(); ++i)
      EXPECT_NEAR(out.sequences_scores[i], run["sequences_scores"][i].get<double>(), 1e-4);
  }
}

// The model card's held-out perplexity definition on two held-out chapters (1405 predicted tokens); the full 59
// chapters: `jitgen perplexity --max-length 256 FILE.jsonl` (README, "The demo model").
TEST_P(DemoModelGolden, HeldOutPerplexityMatchesHf) {
  const auto& g = goldens()["perplexity"];
  const Tokenizer tok = Tokenizer::from_dir(Model::builtin_default_dir());
  const auto stream = document_stream(tok, g["documents"].get<std::vector<std::string>>(), model().info().bos_token_id,
                                      model().info().eos_token_id);
  ASSERT_EQ(stream, g["stream_ids"].get<std::vector<int32_t>>());
  const PerplexityResult r = perplexity(model(), stream, g["max_length"], GetParam());
  EXPECT_EQ(r.predicted, g["predicted"].get<int64_t>());
  EXPECT_NEAR(r.perplexity, g["perplexity"].get<double>(), 1e-3);
}

// The CLI prints prompt + continuation as HF decodes the whole greedy sequence (tokenizer.decode(sequence,
// skip_special_tokens=True)): the continuation keeps the space the SentencePiece decoder strips from a first token.
TEST(DemoModelCli, GenerateTextEqualsHfDecodeOfTheWholeSequence) {
  const auto& g = goldens()["greedy"];
  for (int i : {0, 1}) {
    const auto& run = g["runs"][i];
    const std::string prompt = goldens()["tokenized"][i]["text"];
    const std::string args = fmt::format(" --max-new-tokens {} '{}'", g["max_new_tokens"].get<int>(), prompt);
    const auto plain = test::run_cli("generate" + args);
    const auto stream = test::run_cli("generate --stream" + args);
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    EXPECT_EQ(plain.out, run["text"].get<std::string>() + "\n");
    EXPECT_EQ(stream.out, plain.out);
  }
}

// The same through `jitgen perplexity` (a .jsonl of documents), and its one-line errors.
TEST(DemoModelCli, PerplexityCommandMatchesHfAndNamesBadInput) {
  const auto& g = goldens()["perplexity"];
  const test::TempDir tmp;
  std::string jsonl;
  for (const auto& d : g["documents"]) jsonl += json{{"text", d}}.dump() + "\n";
  test::write_file(tmp.file("held.jsonl"), jsonl);
  const auto r = test::run_cli("perplexity --json --max-length 256 '" + tmp.file("held.jsonl") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["predicted"].get<int64_t>(), g["predicted"].get<int64_t>());
  EXPECT_EQ(j["documents"].get<int>(), 2);
  EXPECT_NEAR(j["perplexity"].get<double>(), g["perplexity"].get<double>(), 1e-3);

  test::write_file(tmp.file("bad.jsonl"), "{\"text\": \"In the beginning\"}\n{\"txt\": 1}\n");
  const auto bad = test::run_cli("perplexity '" + tmp.file("bad.jsonl") + "'");
  EXPECT_EQ(bad.exit_code, 3) << bad.err;
  EXPECT_NE(bad.err.find("bad.jsonl line 2: expected a JSON object with a string field \"text\""), std::string::npos)
      << bad.err;
  const auto window = test::run_cli("perplexity --max-length 600 '" + tmp.file("held.jsonl") + "'");
  EXPECT_EQ(window.exit_code, 2) << window.err;
  EXPECT_NE(window.err.find("--max-length 600: must be 2 .. 512"), std::string::npos) << window.err;
}

INSTANTIATE_TEST_SUITE_P(Modes, DemoModelGolden, ::testing::Values(ExecutionMode::kEager, ExecutionMode::kCompiled),
                         [](const auto& info) { return info.param == ExecutionMode::kEager ? "eager" : "compiled"; });

// Teacher-forced top-1 agreement: along each HF fp32 greedy sequence, the share of generated positions where the
// model's argmax is HF's next token. Free-running greedy texts diverge for good after one flip, so this measures
// the weights' effect on each decision, not on where a flip lands.
double top1_agreement(const Model& m) {
  const int V = m.info().vocab_size;
  int64_t agree = 0, total = 0;
  for (const auto& run : goldens()["greedy"]["runs"]) {
    const auto seq = run["sequence"].get<std::vector<int32_t>>();
    const size_t prompt = run["input_ids"].size();
    const auto logits = m.forward_logits({seq}, {}, ExecutionMode::kCompiled)[0];
    for (size_t t = prompt - 1; t + 1 < seq.size(); ++t) {
      const float* row = logits.data() + t * V;
      agree += std::max_element(row, row + V) - row == seq[t + 1];
      ++total;
    }
  }
  return static_cast<double>(agree) / static_cast<double>(total);
}

Model load_as(const std::string& format) {
  const cpu::ScopedWeightFormat scope(cpu::parse_weight_format(format, "test"));
  return Model::builtin_default();
}

// fp32 follows HF's greedy paths exactly (the goldens above); bf16 panels hold the same bf16 values but the bf16 dot
// kernels (AVX512_BF16) round activations to bf16, int8 / int4 quantize the linear weights (lm_head stays fp32).
// Measured over the 8 x 40 = 320 positions (2-core Zen 4): bf16 320/320 on every SIMD target; int8 319/320 (vnni) and
// 318/320 (avx2, portable); int4 314/320 on all three. The thresholds allow about three times the measured flips
// (the smallest top-1 / top-2 logit gap along these paths is 0.01, so rounding differences on another CPU can
// flip a few more): bf16 >= 0.98, int8 >= 0.97, int4 >= 0.93. int4-q40 (Q4_0's scale rule, lower held-out perplexity
// than int4) measured 312/320 on vnni, avx2 and portable (2026-11-30; int4 then 317/320): >= 0.92. The random GPT-2 is no gauge of this: with random
// weights int4 agrees on 32% of positions (bench/results/quant/accuracy_gpt2_random.md).
TEST(DemoModelWeights, Bf16Int8Int4FollowHfFp32GreedyPaths) {
  EXPECT_EQ(top1_agreement(model()), 1.0);
  const std::vector<std::pair<std::string, double>> formats = {
      {"bf16", 0.98}, {"int8", 0.97}, {"int4", 0.93}, {"int4-q40", 0.92}};
  for (const auto& [format, threshold] : formats) {
    const double a = top1_agreement(load_as(format));
    std::cout << format << " teacher-forced top-1 agreement with HF fp32 greedy: " << a << "\n";
    EXPECT_GE(a, threshold) << format;
  }
}

}  // namespace
}  // namespace jitgen
