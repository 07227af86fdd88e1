// The model families beside GPT-2 against the HF oracle: logits at every position (left-padded batches included),
// greedy tokens, a left-padded greedy batch and beam search, eager and compiled, for random folders rebuilt from the
// make-model arguments recorded in tests/fixtures/llama_goldens.json (llama, mistral, qwen2) and opt_goldens.json
// (scripts/goldens_families.py).
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include <fmt/format.h>

#include "jitgen/generate.h"
#include "jitgen/model.h"
#include "test_support.h"

namespace jitgen {
namespace {

using nlohmann::json;

std::string make_model_dir(const test::TempDir& tmp, const json& c) {
  std::string args = "make-model --out '" + tmp.path() + "'";
  for (const auto& a : c["make_model_args"]) args += " '" + a.get<std::string>() + "'";
  const auto r = test::run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return tmp.path();
}

// Every case of every family fixture, in one list (fixture order, then case order).
const json& goldens() {
  static const json* g = [] {
    auto* all = new json{{"cases", json::array()}};
    for (const char* f : {"llama_goldens.json", "opt_goldens.json"}) {
      const json fixture = test::load_fixture(f);
      for (const json& c : fixture["cases"]) (*all)["cases"].push_back(c);
    }
    return all;
  }();
  return *g;
}

class FamilyGolden : public ::testing::TestWithParam<std::tuple<int, ExecutionMode>> {
 protected:
  const json& golden_case() const { return goldens()["cases"][std::get<0>(GetParam())]; }
  ExecutionMode mode() const { return std::get<1>(GetParam()); }
  Model load() {
    return Model::from_dir(make_model_dir(tmp_, golden_case()));
  }
  GenerationConfig greedy_config() const {
    GenerationConfig cfg;
    cfg.max_new_tokens = golden_case()["max_new_tokens"].get<int>();
    cfg.eos_token_id = {golden_case()["eos_token_id"].get<int32_t>()};
    cfg.pad_token_id = golden_case()["eos_token_id"].get<int32_t>();
    return cfg;
  }
  test::TempDir tmp_;
};

TEST_P(FamilyGolden, LogitsMatchHfAtEveryPosition) {
  const json& c = golden_case();
  const Model model = load();
  const int V = c["vocab_size"], cols = c["logit_cols"];
  ASSERT_EQ(model.info().vocab_size, V);
  EXPECT_EQ(model.info().model_type, c["family"].get<std::string>());
  for (const auto& g : c["logits"]) {
    const auto ids = g["input_ids"].get<std::vector<int32_t>>();
    const auto logits = model.forward_logits({ids}, {}, mode())[0];  // [T * V]
    ASSERT_EQ(g["logits"].size(), ids.size());
    double worst = 0;
    for (size_t t = 0; t < ids.size(); ++t)
      for (int v = 0; v < cols; ++v)
        worst = std::max(worst, std::abs(logits[t * V + v] - g["logits"][t][v].get<double>()));
    EXPECT_LE(worst, 1e-4) << c["name"] << " prompt of " << ids.size() << " tokens";
  }
}

TEST_P(FamilyGolden, LeftPaddedBatchLogitsMatchHfAtEveryRealPosition) {
  const json& c = golden_case();
  const Model model = load();
  const int V = c["vocab_size"], cols = c["logit_cols"];
  const auto& g = c["padded_logits"];
  const auto ids = g["input_ids"].get<std::vector<std::vector<int32_t>>>();
  const auto mask = g["attention_mask"].get<std::vector<std::vector<int32_t>>>();
  const auto logits = model.forward_logits(ids, mask, mode());
  int checked = 0;
  for (size_t b = 0; b < ids.size(); ++b) {
    double worst = 0;
    for (size_t t = 0; t < ids[b].size(); ++t) {
      if (!mask[b][t]) continue;
      ++checked;
      for (int v = 0; v < cols; ++v)
        worst = std::max(worst, std::abs(logits[b][t * V + v] - g["logits"][b][t][v].get<double>()));
    }
    EXPECT_LE(worst, 1e-4) << c["name"] << " row " << b;
  }
  EXPECT_GE(checked, 10);
}

TEST_P(FamilyGolden, GreedyTokensMatchHf) {
  const json& c = golden_case();
  const Model model = load();
  int checked = 0;
  for (const auto& g : c["greedy"]) {
    const auto ids = g["input_ids"].get<std::vector<int32_t>>();
    const GenerateOutput out = generate(model, GenerateInput{{ids}, {}}, greedy_config(), nullptr, mode());
    const auto want = g["sequence"].get<std::vector<int32_t>>();
    EXPECT_EQ(out.sequences[0], want) << c["name"] << " prompt " << checked << ": "
                                      << test::explain_greedy_parting(model, want, out.sequences[0], mode());
    ++checked;
  }
  EXPECT_GE(checked, 8);
}

TEST_P(FamilyGolden, GreedyLeftPaddedBatchMatchesHf) {
  const json& c = golden_case();
  const Model model = load();
  const auto& g = c["greedy_batch"];
  const GenerateOutput out =
      generate(model,
               GenerateInput{g["input_ids"].get<std::vector<std::vector<int32_t>>>(),
                             g["attention_mask"].get<std::vector<std::vector<int32_t>>>()},
               greedy_config(), nullptr, mode());
  EXPECT_EQ(out.sequences, g["sequences"].get<std::vector<std::vector<int32_t>>>()) << c["name"];
}

TEST_P(FamilyGolden, BeamSearchMatchesHf) {
  const json& c = golden_case();
  const Model model = load();
  GenerationConfig cfg = greedy_config();
  cfg.num_beams = c["beam"]["num_beams"].get<int>();
  cfg.num_return_sequences = cfg.num_beams;
  cfg.max_new_tokens = c["beam"]["max_new_tokens"].get<int>();
  for (const auto& run : c["beam"]["runs"]) {
    const auto ids = run["input_ids"].get<std::vector<int32_t>>();
    const GenerateOutput out = generate(model, GenerateInput{{ids}, {}}, cfg, nullptr, mode());
    EXPECT_EQ(out.sequences, run["sequences"].get<std::vector<std::vector<int32_t>>>()) << c["name"];
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, FamilyGolden,
                         ::testing::Combine(::testing::Range(0, static_cast<int>(goldens()["cases"].size())),
                                            ::testing::Values(ExecutionMode::kEager, ExecutionMode::kCompiled)),
                         [](const auto& info) {
                           return fmt::format("{}_{}",
                                              goldens()["cases"][std::get<0>(info.param)]["name"].template get<std::string>(),
                                              std::get<1>(info.param) == ExecutionMode::kEager ? "eager" : "compiled");
                         });

}  // namespace
}  // namespace jitgen
