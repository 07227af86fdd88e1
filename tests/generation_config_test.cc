#include "jitgen/generation_config.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "jitgen/error.h"

namespace jitgen {
namespace {

using nlohmann::json;

TEST(GenerationConfigJson, AppliesHfFieldsAndIgnoresUnknown) {
  const json j = {{"eos_token_id", 50256}, {"bos_token_id", 50256}, {"transformers_version", "4.26.0"},
                  {"do_sample", true}, {"top_k", 0}, {"top_p", 0.9}, {"early_stopping", "never"},
                  {"bad_words_ids", {{1, 2}, {3}}}, {"stop_strings", "\n\n"}, {"min_p", 0.1}};
  const GenerationConfig g = merge_generation_config(j);
  EXPECT_EQ(g.eos_token_id, (std::vector<int32_t>{50256}));
  EXPECT_EQ(g.bos_token_id, 50256);
  EXPECT_TRUE(g.do_sample);
  EXPECT_EQ(g.top_k, 0);
  EXPECT_DOUBLE_EQ(g.top_p, 0.9);
  EXPECT_EQ(g.early_stopping, EarlyStopping::kNever);
  EXPECT_EQ(g.bad_words_ids.size(), 2u);
  EXPECT_EQ(g.stop_strings, (std::vector<std::string>{"\n\n"}));
  EXPECT_EQ(g.min_p, 0.1);
  EXPECT_FALSE(g.max_length_set);
}

TEST(GenerationConfigJson, TypeErrorsNameFileAndField) {
  try {
    merge_generation_config(json{{"top_k", "fifty"}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFile);
    EXPECT_NE(std::string(e.what()).find("generation_config.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("top_k"), std::string::npos);
  }
  EXPECT_THROW(merge_generation_config(json{{"early_stopping", "sometimes"}}), Error);
  EXPECT_THROW(merge_generation_config(json::array()), Error);
}

TEST(GenerationConfigJson, OverridesWinOverModelDefaults) {
  const GenerationConfig g =
      resolve_generation_config(json{{"max_length", 50}, {"top_k", 10}}, json{{"top_k", 5}, {"max_new_tokens", 7}});
  EXPECT_EQ(g.top_k, 5);
  EXPECT_EQ(g.max_length, 50);
  EXPECT_TRUE(g.max_length_set);
  EXPECT_EQ(effective_max_new_tokens(g, 10, 1024), 7);  // max_new_tokens wins over max_length
}

TEST(GenerationConfigLengths, DefaultIsTwentyNewTokensClippedToPositions) {
  GenerationConfig g;
  EXPECT_EQ(effective_max_length(g, 5, 1024), 25);
  EXPECT_EQ(effective_max_length(g, 1010, 1024), 1024);
  g = merge_generation_config(json{{"max_length", 30}});
  EXPECT_EQ(effective_max_length(g, 5, 1024), 30);  // an explicit max_length counts the prompt
}

TEST(GenerationConfigValidate, RejectsBadValues) {
  auto bad = [](json j) { EXPECT_THROW(validate(merge_generation_config(j, {}, "request"), 1024, 4), Error) << j; };
  bad({{"temperature", -0.5}});
  bad({{"top_p", 0.0}});
  bad({{"top_p", 1.5}});
  bad({{"top_k", -1}});
  bad({{"min_p", 1.5}});
  bad({{"typical_p", 0.0}});
  bad({{"repetition_penalty", 0.0}});
  bad({{"num_beams", 0}});
  bad({{"num_beams", 2}, {"num_return_sequences", 3}});
  bad({{"num_return_sequences", 2}});  // greedy
  bad({{"max_new_tokens", 0}});
  bad({{"max_length", 4}});  // nothing to generate
  bad({{"stop_strings", {""}}});
  EXPECT_NO_THROW(validate(merge_generation_config(json{{"num_return_sequences", 2}, {"do_sample", true}}), 1024, 4));
  EXPECT_NO_THROW(validate(GenerationConfig{}, 1024, 4));
}

TEST(GenerationConfigValidate, LengthLimitIsALimitError) {
  GenerationConfig g;
  g.max_new_tokens = 30;
  try {
    validate(g, 32, 4);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kLimit);
  }
}

TEST(GenerationConfigMode, TemperatureZeroMeansGreedy) {
  GenerationConfig g;
  g.do_sample = true;
  EXPECT_EQ(decoding_mode(g), DecodingMode::kSample);
  g.temperature = 0.0;
  EXPECT_EQ(decoding_mode(g), DecodingMode::kGreedy);
  g.num_beams = 3;
  EXPECT_EQ(decoding_mode(g), DecodingMode::kBeam);
}

}  // namespace
}  // namespace jitgen
