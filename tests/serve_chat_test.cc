// POST /v1/chat/completions request parsing on the HF chat-model folder tests/fixtures/chat_model/qwen2-chat: the
// prompt the route renders and tokenizes is byte for byte HF's apply_chat_template text and ids for every golden
// conversation of scripts/make_chat_model.py (tools included: their keys reach the template in the order the
// client sent them, as Python's json.loads keeps them; a sorted-key parse renders a different prompt), and a
// conversation the template cannot render is a 400 carrying jinja2's reason.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "jitgen/model.h"
#include "jitgen/tokenizer.h"
#include "models/model_impl.h"
#include "serve/chat_request.h"
#include "test_support.h"

namespace jitgen::serve {
namespace {

using test::fixture_path;

using ojson = nlohmann::ordered_json;

const std::string kFolder = fixture_path("chat_model/qwen2-chat");

const ojson& goldens() {  // ordered: the conversations keep their key order
  static const ojson* g = [] {
    std::ifstream f(fixture_path("chat_model/goldens.json"));
    std::stringstream ss;
    ss << f.rdbuf();
    return new ojson(ojson::parse(ss.str()));
  }();
  return *g;
}

struct ChatFixture {
  Model model = Model::from_dir(kFolder);
  Tokenizer tokenizer = Tokenizer::from_dir(kFolder);
  ServedChat chat = load_served_chat(tokenizer, kFolder);
  ServedModel served() const {
    ServedModel m;
    m.id = "qwen2-chat";
    m.n_positions = model.info().n_positions;
    m.vocab_size = model.info().vocab_size;
    m.tokenizer = &tokenizer;
    m.generation_defaults = model.impl().generation_defaults;
    return m;
  }
};

TEST(ChatRequest, RendersHfApplyChatTemplateTextAndIds) {
  const ChatFixture f;
  ASSERT_TRUE(f.chat.tmpl) << f.chat.error;
  int checked = 0;
  for (const auto& c : goldens()["cases"]) {
    if (!c["add_generation_prompt"].get<bool>()) continue;  // a chat request always asks for the reply
    ojson body = {{"messages", c["messages"]}, {"max_tokens", 1}};
    if (c.contains("tools")) body["tools"] = c["tools"];
    const ChatRequest r = parse_chat_request(body.dump(), f.served(), f.chat);
    EXPECT_EQ(r.prompt_text, c["text"].get<std::string>()) << c["name"];
    ASSERT_EQ(r.completion.prompts.size(), 1u);
    EXPECT_EQ(r.completion.prompts[0], c["ids"].get<std::vector<int32_t>>()) << c["name"];
    // generation_config's eos list ends the turn
    EXPECT_EQ(r.completion.config.eos_token_id, goldens()["eos_token_id"].get<std::vector<int32_t>>());
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

TEST(ChatRequest, KeyOrderOfToolsReachesTheTemplate) {
  const ChatFixture f;
  ojson tools_case;
  for (const auto& c : goldens()["cases"])
    if (c["name"] == "tools") tools_case = c;
  ASSERT_FALSE(tools_case.is_null());
  // The same tool with its keys sorted (what a std::map JSON parse produces): tojson prints it differently.
  const nlohmann::json sorted = nlohmann::json::parse(tools_case["tools"].dump());
  ojson body = {{"messages", tools_case["messages"]}, {"tools", ojson::parse(sorted.dump())}};
  const ChatRequest r = parse_chat_request(body.dump(), f.served(), f.chat);
  EXPECT_NE(r.prompt_text, tools_case["text"].get<std::string>());
  EXPECT_NE(r.prompt_text.find(R"({"function": {"description": "Get the weather of a city", "name": "get_weather")"),
            std::string::npos);
}

TEST(ChatRequest, UnrenderableConversationIsA400WithJinja2sReason) {
  const ChatFixture f;
  const ojson& u = goldens()["unrenderable"];
  try {
    (void)parse_chat_request(ojson({{"messages", u["messages"]}}).dump(), f.served(), f.chat);
    FAIL() << "rendered";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, "messages");
    EXPECT_NE(std::string(e.what()).find("the model's chat template cannot render these messages"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(u["error"].get<std::string>()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace jitgen::serve
