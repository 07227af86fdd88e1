// An unmodified HF chat-model folder (tests/fixtures/chat_model/qwen2-chat: Qwen2ForCausalLM saved by
// transformers, Qwen2.5's chat template with tools, generation_config eos list [<|im_end|>, <|endoftext|>]) against
// the HF goldens of scripts/make_chat_model.py: the folder's template rendered with the folder's special tokens is
// byte-identical to apply_chat_template, its ids are HF's, and greedy generation with the folder's
// generation_config gives HF's tokens, eager and compiled, ending on the end-of-turn id where HF's does (two
// conversations are built to end on <|im_end|> and on <|endoftext|>, see the script).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "chat/chat_template.h"
#include "jitgen/error.h"
#include "jitgen/generate.h"
#include "jitgen/generation_config.h"
#include "jitgen/model.h"
#include "jitgen/tokenizer.h"
#include "models/model_impl.h"
#include "test_support.h"

namespace jitgen {
namespace {

using ojson = nlohmann::ordered_json;
using test::fixture_path;

const ojson& goldens() {  // ordered: tools / arguments keep their key order, as tojson prints them
  static const ojson* g = [] {
    std::ifstream f(fixture_path("chat_model/goldens.json"));
    std::stringstream ss;
    ss << f.rdbuf();
    return new ojson(ojson::parse(ss.str()));
  }();
  return *g;
}

std::string folder() { return fixture_path("chat_model/qwen2-chat"); }

// The context apply_chat_template gives the template: the tokenizer's special tokens, then the call's arguments.
ojson context(const Tokenizer& tok, const ojson& c) {
  ojson ctx = ojson::object();
  for (const char* k : {"bos_token", "eos_token", "unk_token", "pad_token"})
    if (auto s = tok.special_token(k)) ctx[k] = *s;
  ctx["messages"] = c["messages"];
  ctx["tools"] = c.contains("tools") ? c["tools"] : ojson(nullptr);
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = c["add_generation_prompt"];
  return ctx;
}

TEST(ChatModel, RenderingAndIdsAreHfApplyChatTemplate) {
  const Tokenizer tok = Tokenizer::from_dir(folder());
  ASSERT_FALSE(tok.chat_template().empty());
  const chat::ChatTemplate tmpl(tok.chat_template());
  int n = 0;
  for (const auto& c : goldens()["cases"]) {
    const std::string text = tmpl.render(context(tok, c));
    EXPECT_EQ(text, c["text"].get<std::string>()) << c["name"];
    EXPECT_EQ(tok.encode(text, /*add_special_tokens=*/false), c["ids"].get<std::vector<int32_t>>()) << c["name"];
    ++n;
  }
  EXPECT_EQ(n, 6);
}

TEST(ChatModel, UnrenderableConversationRaisesJinja2sError) {
  const Tokenizer tok = Tokenizer::from_dir(folder());
  const chat::ChatTemplate tmpl(tok.chat_template());
  const auto& u = goldens()["unrenderable"];
  ojson c = {{"messages", u["messages"]}, {"add_generation_prompt", true}};
  try {
    (void)tmpl.render(context(tok, c));
    FAIL() << "rendered";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(u["error"].get<std::string>()), std::string::npos) << e.what();
  }
}

class ChatModelGreedy : public ::testing::TestWithParam<ExecutionMode> {};

TEST_P(ChatModelGreedy, TokensAndEndOfTurnMatchHf) {
  const Model model = Model::from_dir(folder());
  const auto& g = goldens();
  const GenerationConfig cfg = resolve_generation_config(
      model.impl().generation_defaults, {{"max_new_tokens", g["max_new_tokens"].get<int>()}, {"do_sample", false}});
  EXPECT_EQ(cfg.eos_token_id, g["eos_token_id"].get<std::vector<int32_t>>());  // the folder's list, both ids
  int ended_on_eos = 0;
  for (const auto& c : g["cases"]) {
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    const GenerateOutput out = generate(model, GenerateInput{{ids}, {}}, cfg, nullptr, GetParam());
    std::vector<int32_t> fresh(out.sequences[0].begin() + static_cast<std::ptrdiff_t>(ids.size()),
                               out.sequences[0].end());
    const auto hf = c["generated"].get<std::vector<int32_t>>();
    ASSERT_GE(fresh.size(), hf.size()) << c["name"];
    EXPECT_EQ(std::vector<int32_t>(fresh.begin(), fresh.begin() + static_cast<std::ptrdiff_t>(hf.size())), hf)
        << c["name"];
    for (size_t k = hf.size(); k < fresh.size(); ++k) EXPECT_EQ(fresh[k], *cfg.pad_token_id) << c["name"];  // HF pad
    if (hf.size() < g["max_new_tokens"].get<size_t>()) ++ended_on_eos;
  }
  // ends_im_end and ends_endoftext (and no_generation_prompt, which reaches the same trigger) stop early.
  EXPECT_GE(ended_on_eos, 2);
}

INSTANTIATE_TEST_SUITE_P(Modes, ChatModelGreedy, ::testing::Values(ExecutionMode::kEager, ExecutionMode::kCompiled),
                         [](const auto& info) { return info.param == ExecutionMode::kEager ? "eager" : "compiled"; });

}  // namespace
}  // namespace jitgen
