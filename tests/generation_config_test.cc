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

TEST(GenerationConfigJson, ReadsTheNewerHfProcessorFields) {
  const json j = json::parse(R"({"sequence_bias": [[[5], -1.0], [[7, 8], 2], [[5], 3.5]], "suppress_tokens": [1, 2],
    "begin_suppress_tokens": [220], "forced_bos_token_id": 0, "forced_eos_token_id": 50256,
    "exponential_decay_length_penalty": [10, 1.05], "encoder_repetition_penalty": 1.2, "remove_invalid_values": true,
    "renormalize_logits": true, "epsilon_cutoff": 3e-4, "eta_cutoff": 2e-3, "top_h": 0.5})");
  const GenerationConfig g = merge_generation_config(j);
  // a later duplicate sequence replaces the bias and keeps the first position (a Python dict)
  ASSERT_EQ(g.sequence_bias.size(), 2u);
  EXPECT_EQ(g.sequence_bias[0].first, (std::vector<int32_t>{5}));
  EXPECT_DOUBLE_EQ(g.sequence_bias[0].second, 3.5);
  EXPECT_EQ(g.suppress_tokens, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(g.begin_suppress_tokens, (std::vector<int32_t>{220}));
  EXPECT_EQ(g.forced_bos_token_id, 0);
  EXPECT_EQ(g.forced_eos_token_id, (std::vector<int32_t>{50256}));
  ASSERT_TRUE(g.exponential_decay_length_penalty);
  EXPECT_EQ(g.exponential_decay_length_penalty->first, 10);
  EXPECT_DOUBLE_EQ(g.encoder_repetition_penalty, 1.2);
  EXPECT_TRUE(g.remove_invalid_values && g.renormalize_logits);
  EXPECT_DOUBLE_EQ(g.epsilon_cutoff, 3e-4);
  EXPECT_DOUBLE_EQ(g.eta_cutoff, 2e-3);
  EXPECT_EQ(g.top_h, 0.5);
  // null resets to HF's defaults
  const GenerationConfig r = merge_generation_config(
      json::parse(R"({"sequence_bias": null, "forced_eos_token_id": null, "top_h": null, "suppress_tokens": null})"), g,
      "request");
  EXPECT_TRUE(r.sequence_bias.empty() && r.forced_eos_token_id.empty() && r.suppress_tokens.empty());
  EXPECT_FALSE(r.top_h);
}

// HF options jitgen does not implement are refused by name when (and only when) they would change HF's output.
TEST(GenerationConfigValidate, RefusesUnimplementedHfOptionsThatChangeTheOutput) {
  auto check = [](const char* text, int prompt_len = 4) {
    validate(resolve_generation_config(json::object(), json::parse(text)), 1024, prompt_len);
  };
  auto refused = [&](const char* text, const char* field) {
    try {
      check(text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << text;
      EXPECT_NE(std::string(e.what()).find(std::string("'") + field + "'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("not supported"), std::string::npos) << e.what();
    }
  };
  refused(R"({"num_beams": 4, "num_beam_groups": 2, "diversity_penalty": 0.5})", "num_beam_groups");
  refused(R"({"penalty_alpha": 0.6, "top_k": 4})", "penalty_alpha");
  refused(R"({"dola_layers": "high"})", "dola_layers");
  refused(R"({"guidance_scale": 1.5})", "guidance_scale");
  refused(R"({"watermarking_config": {"greenlist_ratio": 0.25}})", "watermarking_config");
  refused(R"({"force_words_ids": [[1]], "num_beams": 2})", "force_words_ids");
  refused(R"({"constraints": [1]})", "constraints");
  refused(R"({"token_healing": true})", "token_healing");
  refused(R"({"encoder_no_repeat_ngram_size": 3})", "encoder_no_repeat_ngram_size");
  refused(R"({"prompt_lookup_num_tokens": 10})", "prompt_lookup_num_tokens");
  refused(R"({"use_mtp": true})", "use_mtp");
  refused(R"({"assistant_early_exit": 4})", "assistant_early_exit");
  refused(R"({"is_assistant": true})", "is_assistant");
  refused(R"({"low_memory": true, "num_beams": 2})", "low_memory");
  refused(R"({"output_logits": true, "return_dict_in_generate": true})", "output_logits");
  refused(R"({"output_hidden_states": true, "return_dict_in_generate": true})", "output_hidden_states");
  // values for which HF decodes exactly as plain greedy / sampling / beam search: accepted
  check(R"({"num_beam_groups": 1, "num_beams": 4, "diversity_penalty": 0.0})");
  check(R"({"num_beam_groups": 2})");                       // no beams: HF ignores the groups
  check(R"({"penalty_alpha": 0.6, "top_k": 4, "do_sample": true})");  // sampling, not contrastive search
  check(R"({"penalty_alpha": 0.0, "top_k": 4})");
  check(R"({"guidance_scale": 1.0, "low_memory": true, "token_healing": false, "constraints": null})");
  check(R"({"prompt_lookup_num_tokens": 10, "num_beams": 2})");  // HF warns and runs beam search
  check(R"({"output_logits": true, "output_attentions": true})");  // ignored by HF without return_dict_in_generate
  // fields that cannot change the output, and names HF keeps as inert attributes
  check(R"({"use_cache": false, "cache_implementation": "static", "transformers_version": "4.51.0",
            "num_assistant_tokens": 20, "compile_config": {"fullgraph": true}, "my_custom_field": [1, 2]})");
  // a refused field set by the file and reset by the caller is gone
  GenerationConfig g = merge_generation_config(json::parse(R"({"guidance_scale": 3})"));
  EXPECT_THROW(validate(g, 1024, 4), Error);
  g = merge_generation_config(json::parse(R"({"guidance_scale": null})"), g, "request");
  EXPECT_NO_THROW(validate(g, 1024, 4));
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
