// The model against the HF oracle: logits (every position, and left-padded batches) and greedy tokens
// for random GPT-2 folders rebuilt from the make-model arguments recorded in the fixture.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include <fmt/format.h>

#include "io/hf_config.h"
#include "jitgen/generate.h"
#include "jitgen/model.h"
#include "models/gpt2/random_gpt2.h"
#include "test_support.h"

namespace jitgen {
namespace {

using nlohmann::json;

// Runs the CLI's make-model with the fixture's arguments: the same code path the oracle script used.
std::string make_model_dir(const test::TempDir& tmp, const json& c) {
  std::string args = "make-model --out '" + tmp.path() + "'";
  for (const auto& a : c["make_model_args"]) args += " " + a.get<std::string>();
  const auto r = test::run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return tmp.path();
}

// (golden case index, execution mode): eager and compiled must both match HF.
class ModelGolden : public ::testing::TestWithParam<std::tuple<int, ExecutionMode>> {
 protected:
  static void SetUpTestSuite() { goldens_ = new json(test::load_fixture("model_goldens.json")); }
  static void TearDownTestSuite() { delete goldens_; }
  const json& golden_case() const { return (*goldens_)["cases"][std::get<0>(GetParam())]; }
  ExecutionMode mode() const { return std::get<1>(GetParam()); }
  static json* goldens_;
};
json* ModelGolden::goldens_ = nullptr;

TEST_P(ModelGolden, LogitsMatchHfAtEveryPosition) {
  const json& c = golden_case();
  test::TempDir tmp;
  const Model model = Model::from_dir(make_model_dir(tmp, c));
  const int V = c["vocab_size"], cols = c["logit_cols"];
  ASSERT_EQ(model.info().vocab_size, V);
  for (const auto& g : c["logits"]) {
    const auto ids = g["input_ids"].get<std::vector<int32_t>>();
    const auto logits = model.forward_logits({ids}, {}, mode())[0];  // [T * V]
    const auto& expected = g["logits"];
    ASSERT_EQ(expected.size(), ids.size());
    double worst = 0;
    for (size_t t = 0; t < ids.size(); ++t)
      for (int v = 0; v < cols; ++v)
        worst = std::max(worst, std::abs(logits[t * V + v] - expected[t][v].get<double>()));
    EXPECT_LE(worst, 1e-4) << c["name"] << " prompt of " << ids.size() << " tokens";
  }
}

TEST_P(ModelGolden, LeftPaddedBatchLogitsMatchHf) {
  const json& c = golden_case();
  test::TempDir tmp;
  const Model model = Model::from_dir(make_model_dir(tmp, c));
  const int V = c["vocab_size"], cols = c["logit_cols"];
  const auto& g = c["padded_logits"];
  const auto ids = g["input_ids"].get<std::vector<std::vector<int32_t>>>();
  const auto mask = g["attention_mask"].get<std::vector<std::vector<int32_t>>>();
  const auto logits = model.forward_logits(ids, mask, mode());
  const size_t T = ids[0].size();
  for (size_t b = 0; b < ids.size(); ++b) {
    double worst = 0;
    for (int v = 0; v < cols; ++v)
      worst = std::max(worst, std::abs(logits[b][(T - 1) * V + v] - g["last_logits"][b][v].get<double>()));
    EXPECT_LE(worst, 1e-4) << c["name"] << " row " << b;
  }
}

TEST_P(ModelGolden, GreedyTokensMatchHf) {
  const json& c = golden_case();
  test::TempDir tmp;
  const Model model = Model::from_dir(make_model_dir(tmp, c));
  GenerationConfig cfg;
  cfg.max_new_tokens = (*goldens_)["max_new_tokens"].get<int>();
  cfg.eos_token_id = {c["eos_token_id"].get<int32_t>()};
  cfg.pad_token_id = c["eos_token_id"].get<int32_t>();
  int checked = 0;
  for (const auto& g : c["greedy"]) {
    const auto ids = g["input_ids"].get<std::vector<int32_t>>();
    const GenerateOutput out = generate(model, GenerateInput{{ids}, {}}, cfg, nullptr, mode());
    const auto want = g["sequence"].get<std::vector<int32_t>>();
    EXPECT_EQ(out.sequences[0], want) << c["name"] << " prompt " << checked << ": "
                                      << test::explain_greedy_parting(model, want, out.sequences[0], mode());
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

TEST_P(ModelGolden, GreedyLeftPaddedBatchMatchesHf) {
  const json& c = golden_case();
  test::TempDir tmp;
  const Model model = Model::from_dir(make_model_dir(tmp, c));
  GenerationConfig cfg;
  cfg.max_new_tokens = (*goldens_)["max_new_tokens"].get<int>();
  cfg.eos_token_id = {c["eos_token_id"].get<int32_t>()};
  cfg.pad_token_id = c["eos_token_id"].get<int32_t>();
  const auto& g = c["greedy_batch"];
  const GenerateOutput out =
      generate(model,
               GenerateInput{g["input_ids"].get<std::vector<std::vector<int32_t>>>(),
                             g["attention_mask"].get<std::vector<std::vector<int32_t>>>()},
               cfg, nullptr, mode());
  EXPECT_EQ(out.sequences, g["sequences"].get<std::vector<std::vector<int32_t>>>());
}

INSTANTIATE_TEST_SUITE_P(Cases, ModelGolden,
                         ::testing::Combine(::testing::Range(0, 3),
                                            ::testing::Values(ExecutionMode::kEager, ExecutionMode::kCompiled)),
                         [](const auto& info) {
                           return fmt::format("{}_{}", std::get<0>(info.param),
                                              std::get<1>(info.param) == ExecutionMode::kEager ? "eager" : "compiled");
                         });

TEST(ModelRandom, MakerIsDeterministicAndSeedSensitive) {
  const io::Gpt2Config c = gpt2_preset("tiny");
  const Gpt2Weights a = random_gpt2_weights(c, 7), b = random_gpt2_weights(c, 7), d = random_gpt2_weights(c, 8);
  ASSERT_EQ(a.wte.numel(), b.wte.numel());
  EXPECT_TRUE(std::equal(a.wte.f32(), a.wte.f32() + a.wte.numel(), b.wte.f32()));
  EXPECT_FALSE(std::equal(a.wte.f32(), a.wte.f32() + a.wte.numel(), d.wte.f32()));
}

TEST(ModelErrors, PromptBeyondPositionTableIsALimitError) {
  const Model model = Model::builtin_random_gpt2();
  GenerationConfig cfg;
  cfg.max_new_tokens = 10;
  std::vector<int32_t> ids(model.info().n_positions - 5, 1);
  try {
    generate(model, GenerateInput{{ids}, {}}, cfg);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kLimit);
    EXPECT_NE(std::string(e.what()).find("n_positions"), std::string::npos) << e.what();
  }
}

TEST(ModelErrors, TokenOutsideVocabularyIsRejected) {
  const Model model = Model::builtin_random_gpt2();
  GenerationConfig cfg;
  cfg.max_new_tokens = 1;
  try {
    generate(model, GenerateInput{{{1, model.info().vocab_size}}, {}}, cfg);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("outside the vocabulary"), std::string::npos) << e.what();
  }
}

TEST(ModelErrors, EmptyPromptIsRejected) {
  const Model model = Model::builtin_random_gpt2();
  EXPECT_THROW(generate(model, GenerateInput{{{}}, {}}, GenerationConfig{}), Error);
}

}  // namespace
}  // namespace jitgen
