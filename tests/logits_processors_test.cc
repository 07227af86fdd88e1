#include "generate/logits_processors.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "jitgen/error.h"
#include "test_support.h"

namespace jitgen::decoding {
namespace {

using nlohmann::json;

struct Goldens {
  json doc;
  int V, rows, T;
  std::vector<float> scores;
  std::vector<int32_t> ids, mask;
  Goldens() : doc(test::load_fixture("processors_goldens.json")) {
    V = doc["V"];
    rows = doc["rows"];
    T = doc["T"];
    scores = to_floats(doc["scores"]);
    ids = doc["input_ids"].get<std::vector<int32_t>>();
    mask = doc["attention_mask"].get<std::vector<int32_t>>();
  }
  static std::vector<float> to_floats(const json& a) {
    std::vector<float> v;
    for (const auto& x : a) v.push_back(x.is_null() ? -std::numeric_limits<float>::infinity() : x.get<float>());
    return v;
  }
  int leading_pads(int r) const {
    int n = 0;
    while (n < T && mask[r * T + n] == 0) ++n;
    return n == T ? 0 : n;  // argmax of an all-zero mask is 0
  }
  const json& find_case(const std::string& name) const {
    for (const auto& c : doc["cases"])
      if (c["name"] == name) return c;
    throw std::runtime_error("missing case " + name);
  }
};

void expect_rows_equal(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  int mismatches = 0;
  for (size_t i = 0; i < got.size() && mismatches < 10; ++i) {
    if (std::isinf(want[i])) {
      if (!(std::isinf(got[i]) && got[i] < 0)) {
        ADD_FAILURE() << what << " index " << i << ": want -inf, got " << got[i];
        ++mismatches;
      }
    } else if (!(std::fabs(got[i] - want[i]) <= 1e-5f * std::max(1.0f, std::fabs(want[i])))) {
      ADD_FAILURE() << what << " index " << i << ": want " << want[i] << ", got " << got[i];
      ++mismatches;
    }
  }
}

template <typename F>
void run_case(const Goldens& g, const std::string& name, F&& f) {
  const json& c = g.find_case(name);
  std::vector<float> s = g.scores;
  for (int r = 0; r < g.rows; ++r) f(&s[r * g.V], &g.ids[r * g.T], r, c["params"]);
  expect_rows_equal(s, Goldens::to_floats(c["scores"]), name);
}

class LogitsProcessorsGolden : public ::testing::Test {
 protected:
  Goldens g;
  ProcessorScratch scratch;
};

TEST_F(LogitsProcessorsGolden, RepetitionPenaltySkipsLeadingPads) {
  for (const char* name : {"repetition_penalty", "repetition_penalty_reward"})
    run_case(g, name, [&](float* s, const int32_t* ids, int r, const json& p) {
      repetition_penalty(s, g.V, ids, g.T, g.leading_pads(r), p["penalty"].get<float>(), scratch);
    });
}

TEST_F(LogitsProcessorsGolden, NoRepeatNGram) {
  for (const char* name : {"no_repeat_ngram_1", "no_repeat_ngram_2", "no_repeat_ngram_3"})
    run_case(g, name, [&](float* s, const int32_t* ids, int, const json& p) {
      no_repeat_ngram(s, g.V, ids, g.T, p["ngram_size"].get<int>());
    });
}

TEST_F(LogitsProcessorsGolden, BadWordsMultiTokenAndEosFiltered) {
  const json& p = g.find_case("bad_words")["params"];
  const auto seqs = make_bad_words(p["bad_words_ids"].get<std::vector<std::vector<int32_t>>>(),
                                   p["eos"].get<std::vector<int32_t>>());
  run_case(g, "bad_words", [&](float* s, const int32_t* ids, int, const json&) { bad_words(s, g.V, ids, g.T, seqs); });
}

TEST_F(LogitsProcessorsGolden, MinLengthAndMinNewTokens) {
  for (const char* name : {"min_length_active", "min_length_inactive"})
    run_case(g, name, [&](float* s, const int32_t*, int, const json& p) {
      min_length(s, g.V, g.T, p["min_length"].get<int>(), p["eos"].get<std::vector<int32_t>>());
    });
  for (const char* name : {"min_new_tokens_active", "min_new_tokens_inactive"})
    run_case(g, name, [&](float* s, const int32_t*, int, const json& p) {
      min_new_tokens(s, g.V, g.T, p["prompt_len"].get<int>(), p["min_new_tokens"].get<int>(),
                     p["eos"].get<std::vector<int32_t>>());
    });
}

TEST_F(LogitsProcessorsGolden, Warpers) {
  run_case(g, "temperature", [&](float* s, const int32_t*, int, const json& p) { temperature(s, g.V, p["t"].get<double>()); });
  for (const char* name : {"top_k_10", "top_k_15_ties", "top_k_min_keep"})
    run_case(g, name, [&](float* s, const int32_t*, int, const json& p) {
      top_k(s, g.V, p["k"].get<int>(), p["min_keep"].get<int>(), scratch);
    });
  for (const char* name : {"top_p_0.9", "top_p_0.3", "top_p_min_keep"})
    run_case(g, name, [&](float* s, const int32_t*, int, const json& p) {
      top_p(s, g.V, p["p"].get<double>(), p["min_keep"].get<int>(), scratch);
    });
  for (const char* name : {"min_p_0.1", "min_p_0.9_min_keep"})
    run_case(g, name, [&](float* s, const int32_t*, int, const json& p) {
      min_p(s, g.V, p["p"].get<double>(), p["min_keep"].get<int>(), scratch);
    });
  for (const char* name : {"typical_0.9", "typical_0.2_min_keep"})
    run_case(g, name, [&](float* s, const int32_t*, int, const json& p) {
      typical_p(s, g.V, p["mass"].get<double>(), p["min_keep"].get<int>(), scratch);
    });
}

TEST_F(LogitsProcessorsGolden, ChainsMatchGenerateOrderAndValues) {
  for (const auto& c : g.doc["chains"]) {
    const std::string name = c["name"];
    const GenerationConfig cfg = merge_generation_config(c["config"], GenerationConfig{}, "chain " + name);
    LogitsProcessorChain chain(cfg, c["prompt_len"].get<int>(), c.value("max_length", 0));
    EXPECT_EQ(chain.names(), c["processors"].get<std::vector<std::string>>()) << name;
    std::vector<float> s = g.scores;
    const int len = c.value("len", g.T);  // the row length HF's processors saw (a prefix of the ids)
    for (int r = 0; r < g.rows; ++r) chain.apply(&s[r * g.V], g.V, &g.ids[r * g.T], len, g.leading_pads(r));
    expect_rows_equal(s, Goldens::to_floats(c["scores"]), name);
  }
}

// Every field of HF's GenerationConfig (listed by the goldens script from transformers itself) is implemented,
// ignored with a stated reason, or refused by validate(); none falls through as "not an HF field".
TEST_F(LogitsProcessorsGolden, EveryHfGenerationConfigFieldIsClassified) {
  const auto fields = g.doc["generation_config_fields"].get<std::vector<std::string>>();
  ASSERT_GT(fields.size(), 60u);
  for (const std::string& f : fields) {
    const HfFieldStatus st = hf_field_status(f);
    EXPECT_NE(st, HfFieldStatus::kNotHf) << f;
    if (st == HfFieldStatus::kIgnored || st == HfFieldStatus::kRefused) EXPECT_FALSE(hf_field_reason(f).empty()) << f;
  }
  EXPECT_EQ(hf_field_status("not_an_hf_field"), HfFieldStatus::kNotHf);
}

TEST(LogitsProcessorsChain, VocabularyChecksNameTheField) {
  GenerationConfig cfg;
  cfg.forced_eos_token_id = {7};
  cfg.sequence_bias = {{{1, 9}, 1.0}};
  LogitsProcessorChain chain(cfg, 2, 4);
  std::vector<float> s(5, 0.0f);
  const int32_t ids[3] = {1, 2, 3};
  EXPECT_THROW(chain.apply(s.data(), 5, ids, 3, 0), Error);
  try {
    chain.apply(s.data(), 5, ids, 3, 0);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sequence_bias: token id 9"), std::string::npos) << e.what();
  }
}

TEST(LogitsProcessorsChain, TemperatureZeroIsGreedyWithoutWarpers) {
  GenerationConfig cfg;
  cfg.do_sample = true;
  cfg.temperature = 0.0;
  LogitsProcessorChain chain(cfg, 4, 20);
  EXPECT_TRUE(chain.names().empty());
  EXPECT_EQ(decoding_mode(cfg), DecodingMode::kGreedy);
}

TEST(LogitsProcessorsSoftmax, LogSoftmaxNormalises) {
  const std::vector<float> x = {1.0f, 2.0f, 3.0f};
  std::vector<float> y(3);
  log_softmax_row(x.data(), y.data(), 3);
  // exact: log_softmax(x)_i = x_i - log(e + e^2 + e^3)
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(y[i], x[i] - lse, 1e-6);
}

}  // namespace
}  // namespace jitgen::decoding
