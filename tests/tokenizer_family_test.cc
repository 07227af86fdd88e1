// Every tokenizer family against the HF oracle: tests/fixtures/tokenizers/<family>/ holds an HF folder made
// by scripts/make_tokenizer_fixtures.py with the oracle libraries' own trainers / converters (Llama-2 style
// SentencePiece BPE with byte fallback, legacy and not; Llama-3 and Qwen2 style byte-level BPE with their
// Split regexes, NFC and ignore_merges; SmolLM style with individual digits; T5 style Unigram with the
// Precompiled normalizer) and goldens.json from transformers 5 on that folder. The cls_* folders hold a
// tokenizer.json that their tokenizer_class rebuilds differently in transformers 5 (as hub folders saved by
// transformers 4.x do; src/tokenizer/hf_class_rules.cc), and kjv_llama_5m is the built-in default model's folder.
// JITGEN_TOKENIZER_FIXTURES points at a freshly generated set instead (the script's --compare mode).
#include <gtest/gtest.h>

#include <cstdlib>

#include "jitgen/tokenizer.h"
#include "test_support.h"
#include "tokenizer/hf_class_rules.h"

namespace jitgen {
namespace {

using nlohmann::json;

std::string fixtures_root() {
  const char* env = std::getenv("JITGEN_TOKENIZER_FIXTURES");
  return env != nullptr ? std::string(env) : test::fixture_path("tokenizers");
}

struct Family {
  std::string name;
  std::string dir() const { return fixtures_root() + "/" + name; }
};

class TokenizerFamily : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // The built-in default model's folder is not copied into the fixtures (it is sha256-checked in models/): only
    // its goldens are.
    const bool builtin = GetParam() == "kjv_llama_5m";
    dir_ = builtin ? test::source_dir() + "/models/kjv-llama-5m" : fixtures_root() + "/" + GetParam();
    tok_ = std::make_unique<Tokenizer>(Tokenizer::from_dir(dir_));
    g_ = json::parse(test::read_file(builtin ? fixtures_root() + "/kjv-llama-5m.goldens.json" : dir_ + "/goldens.json"));
  }
  std::string dir_;
  std::unique_ptr<Tokenizer> tok_;
  json g_;
};

std::vector<int32_t> ids_of(const json& j) { return j.get<std::vector<int32_t>>(); }

TEST_P(TokenizerFamily, EncodeMatchesHfWithAndWithoutSpecialTokens) {
  ASSERT_GE(g_["encode"].size(), 500u);
  const size_t pre = g_["post_processor_prefix"], post = g_["post_processor_suffix"];
  int bad = 0;
  for (const json& c : g_["encode"]) {
    const std::string text = c["text"];
    const auto want = ids_of(c["ids"]);
    auto want_plain = c.contains("ids_plain") ? ids_of(c["ids_plain"])
                                              : std::vector<int32_t>(want.begin() + pre, want.end() - post);
    auto got = tok_->encode(text);
    auto got_plain = tok_->encode(text, /*add_special_tokens=*/false);
    if (got != want || got_plain != want_plain) {
      if (++bad <= 20)
        ADD_FAILURE() << GetParam() << " text " << json(text).dump() << "\n got  " << json(got).dump() << "\n want "
                      << json(want).dump() << "\n plain got " << json(got_plain).dump() << " want " << json(want_plain).dump();
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST_P(TokenizerFamily, DecodeMatchesHfWithAndWithoutSkippingSpecialTokens) {
  int bad = 0;
  for (const json& c : g_["encode"]) {
    const std::string text = c["text"];
    const auto ids = ids_of(c["ids"]);
    const std::string want = c.value("decode", text), want_skip = c.value("decode_skip", text);
    const std::string got = tok_->decode(ids), got_skip = tok_->decode(ids, true);
    if (got != want || got_skip != want_skip) {
      if (++bad <= 20)
        ADD_FAILURE() << GetParam() << " ids " << json(ids).dump() << "\n got  " << json(got).dump() << " / "
                      << json(got_skip).dump() << "\n want " << json(want).dump() << " / " << json(want_skip).dump();
    }
  }
  ASSERT_GE(g_["decode"].size(), 100u);
  for (const json& c : g_["decode"]) {
    const auto ids = ids_of(c["ids"]);
    std::string got = tok_->decode(ids, c["skip_special_tokens"].get<bool>());
    if (got != c["text"].get<std::string>()) {
      if (++bad <= 40) ADD_FAILURE() << GetParam() << " ids " << c["ids"].dump() << " got " << json(got).dump() << " want " << c["text"].dump();
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST_P(TokenizerFamily, BatchPaddingAndTruncationMatchHf) {
  ASSERT_GE(g_["batch"].size(), 40u);
  for (const json& c : g_["batch"]) {
    BatchEncodeOptions o;
    o.padding_side = c["padding_side"] == "left" ? PaddingSide::kLeft : PaddingSide::kRight;
    o.pad_to_multiple_of = c["pad_to_multiple_of"];
    if (!c["max_length"].is_null()) o.max_length = c["max_length"].get<int>();
    o.truncation_side = c["truncation_side"] == "left" ? PaddingSide::kLeft : PaddingSide::kRight;
    o.add_special_tokens = c["add_special_tokens"];
    BatchEncoding e = tok_->encode_batch(c["texts"].get<std::vector<std::string>>(), o);
    EXPECT_EQ(json(e.input_ids), c["input_ids"]) << GetParam() << " " << c.dump();
    EXPECT_EQ(json(e.attention_mask), c["attention_mask"]) << GetParam() << " " << c.dump();
  }
}

TEST_P(TokenizerFamily, ConfigAccessorsMatchHf) {
  EXPECT_EQ(tok_->vocab_size(), g_["vocab_size"].get<int>());
  for (const char* name : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    const json& want = g_["special_tokens"][name];
    auto got = tok_->special_token(name);
    if (want.is_null()) {
      EXPECT_FALSE(got.has_value()) << name;
    } else {
      ASSERT_TRUE(got.has_value()) << name;
      EXPECT_EQ(*got, want.get<std::string>()) << name;
    }
  }
  auto id_eq = [&](std::optional<int32_t> got, const char* key) {
    const json& want = g_["special_ids"][key];
    if (want.is_null()) EXPECT_FALSE(got.has_value()) << key;
    else EXPECT_EQ(got, std::optional<int32_t>(want.get<int32_t>())) << key;
  };
  id_eq(tok_->bos_token_id(), "bos_token_id");
  id_eq(tok_->eos_token_id(), "eos_token_id");
  id_eq(tok_->unk_token_id(), "unk_token_id");
  id_eq(tok_->pad_token_id(), "pad_token_id");
  EXPECT_EQ(tok_->chat_template(), g_["chat_template"].get<std::string>());
  EXPECT_EQ(tok_->model_max_length(), std::optional<int64_t>(g_["model_max_length"].get<int64_t>()));
}

TEST_P(TokenizerFamily, TokenBytesConcatenateToTheTextOfContentTokens) {
  // token_bytes serves streaming: for text without special tokens whose decode keeps every byte (the
  // decoders here only strip one leading space), the concatenation equals decode modulo that space.
  int checked = 0;
  for (const json& c : g_["encode"]) {
    const std::string text = c["text"];
    auto ids = tok_->encode(text, false);
    bool special = false;
    for (int32_t id : ids) special |= tok_->is_special_token(id);
    if (special || ids.empty()) continue;
    std::string cat;
    for (int32_t id : ids) cat += tok_->token_bytes(id);
    std::string dec = tok_->decode(ids);
    if (cat == dec || (cat.size() == dec.size() + 1 && cat[0] == ' ' && cat.substr(1) == dec)) ++checked;
  }
  EXPECT_GT(checked, 200);
}

TEST(TokenizerClass, ResolvedAsAutoTokenizerResolvesIt) {
  // class_resolution.json: the class AutoTokenizer.from_pretrained picks for combinations of tokenizer_config.json's
  // tokenizer_class, config.json's tokenizer_class / model_type and a byte-level or Metaspace tokenizer.json.
  const json g = json::parse(test::read_file(fixtures_root() + "/class_resolution.json"));
  ASSERT_GE(g["cases"].size(), 500u);
  int bad = 0;
  for (const json& c : g["cases"]) {
    const std::string got = tokenizer::resolve_hf_tokenizer_class(c["tokenizer_class"].get<std::string>(),
                                                                  c["config_tokenizer_class"].get<std::string>(),
                                                                  c["model_type"].get<std::string>(), c["byte_level"]);
    if (got != c["class"].get<std::string>() && ++bad <= 20) ADD_FAILURE() << c.dump() << " got " << got;
  }
  EXPECT_EQ(bad, 0);
}

INSTANTIATE_TEST_SUITE_P(Families, TokenizerFamily,
                         ::testing::Values("llama2_legacy", "llama2", "llama3", "qwen2", "smollm", "t5", "spm_llama",
                                           "spm_llama_legacy", "spm_llama_noprefix", "spm_t5", "cls_llama_legacy",
                                           "cls_llama_nonlegacy", "cls_llama_nolegacy", "cls_llama_noprefix", "cls_gemma",
                                           "cls_fast_asis", "cls_llama_bytelevel", "cls_qwen2", "cls_qwen2_modeltype",
                                           "cls_gpt2", "cls_neox", "cls_t5", "kjv_llama_5m"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace jitgen
