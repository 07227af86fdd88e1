// Chat templates against Python jinja2 driven as transformers' apply_chat_template drives it: every case of
// tests/fixtures/chat_template_goldens.json (scripts/goldens_chat_templates.py) renders byte-identically, and
// the cases where jinja2 raises raise here with the same message. Plus error positions and refusals.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "chat/chat_template.h"
#include "jitgen/error.h"
#include "test_support.h"

namespace jitgen::chat {
namespace {

using test::fixture_path;

nlohmann::ordered_json load_goldens() {
  std::ifstream f(fixture_path("chat_template_goldens.json"));
  std::stringstream ss;
  ss << f.rdbuf();
  return nlohmann::ordered_json::parse(ss.str());
}

RenderOptions fixed_clock(const nlohmann::ordered_json& now) {
  std::tm tm{};
  tm.tm_year = now[0].get<int>() - 1900;
  tm.tm_mon = now[1].get<int>() - 1;
  tm.tm_mday = now[2].get<int>();
  tm.tm_hour = now[3].get<int>();
  tm.tm_min = now[4].get<int>();
  tm.tm_sec = now[5].get<int>();
  std::mktime(&tm);  // fills tm_wday / tm_yday for %a, %j
  tm.tm_hour = now[3].get<int>();
  RenderOptions o;
  o.now = tm;
  return o;
}

std::string render_or_error(const ChatTemplate& t, const nlohmann::ordered_json& ctx, const RenderOptions& o,
                            bool* failed) {
  try {
    *failed = false;
    return t.render(ctx, o);
  } catch (const Error& e) {
    *failed = true;
    return e.what();
  }
}

TEST(ChatTemplate, GoldensMatchJinja2ByteForByte) {
  auto g = load_goldens();
  RenderOptions opts = fixed_clock(g["now"]);
  std::map<std::string, std::unique_ptr<ChatTemplate>> templates;
  for (auto it = g["templates"].begin(); it != g["templates"].end(); ++it)
    templates[it.key()] = std::make_unique<ChatTemplate>(it.value().get<std::string>());
  int rendered = 0, raised = 0;
  for (const auto& c : g["cases"]) {
    std::string name = c["template"].get<std::string>() + " / " + c["chat"].get<std::string>() +
                       " / add_generation_prompt=" + c["context"]["add_generation_prompt"].dump();
    bool failed;
    std::string out = render_or_error(*templates.at(c["template"]), c["context"], opts, &failed);
    if (c.contains("output")) {
      ASSERT_FALSE(failed) << name << ": " << out;
      EXPECT_EQ(out, c["output"].get<std::string>()) << name;
      ++rendered;
    } else {
      ASSERT_TRUE(failed) << name << " rendered but jinja2 raised " << c["error"];
      EXPECT_NE(out.find(c["error"].get<std::string>()), std::string::npos) << name << ": " << out;
      ++raised;
    }
  }
  EXPECT_GT(rendered, 300);
  EXPECT_GT(raised, 20);
}

std::string error_of(const std::string& source, const nlohmann::ordered_json& ctx = nlohmann::ordered_json::object()) {
  try {
    ChatTemplate(source).render(ctx);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "(no error)";
}

TEST(ChatTemplate, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(error_of("ab\n{% if x %}\n  {{ 1 + }}\n{% endif %}"),
            "chat template line 3, column 10: unexpected end of print statement");
  EXPECT_EQ(error_of("{% for x in y %}"), "chat template line 1, column 17: unexpected end of template, expected 'else'");
  EXPECT_EQ(error_of("{{ 'abc }}"), "chat template line 1, column 4: unterminated string literal");
  EXPECT_EQ(error_of("x\n {# never closed"), "chat template line 2, column 2: missing end of comment tag");
  EXPECT_EQ(error_of("{% break %}"), "chat template line 1, column 4: 'break' outside of a loop");
  EXPECT_EQ(error_of("{{ (1 }}"), "chat template line 1, column 7: unexpected '}', expected ')'");
}

TEST(ChatTemplate, UnsupportedConstructsAreRefusedByName) {
  EXPECT_EQ(error_of("{% include 'x.jinja' %}"),
            "chat template line 1, column 4: the 'include' tag is not supported in chat templates");
  EXPECT_EQ(error_of("{% foo %}"), "chat template line 1, column 4: unknown tag 'foo'");
  EXPECT_EQ(error_of("{{ 'a' | truncate(3) }}"),
            "chat template line 1, column 8: the 'truncate' filter is not supported in chat templates");
  EXPECT_EQ(error_of("{{ x | frobnicate }}"), "chat template line 1, column 6: no filter named 'frobnicate'");
  EXPECT_EQ(error_of("{{ 1 is frob }}"), "chat template line 1, column 6: no test named 'frob'");
  EXPECT_EQ(error_of("{{ '%s' % 1 }}"),
            "chat template line 1, column 9: printf-style string formatting ('...' % x) is not supported in chat "
            "templates");
  EXPECT_EQ(error_of("{% for x in y recursive %}{% endfor %}"),
            "chat template line 1, column 15: recursive loops are not supported in chat templates");
}

TEST(ChatTemplate, RenderErrorsNamePositionAndCause) {
  EXPECT_EQ(error_of("\n  {{ raise_exception('roles must alternate') }}"),
            "chat template line 2, column 6: raise_exception: roles must alternate");
  EXPECT_EQ(error_of("{{ messages[0].content.x }}", {{"messages", nlohmann::ordered_json::array({{{"role", "u"}}})}}),
            "chat template line 1, column 23: 'dict object' has no attribute 'content'");
  EXPECT_EQ(error_of("{{ 1 + 'a' }}"), "chat template line 1, column 6: unsupported operand type(s) for +: 'int' and 'str'");
  EXPECT_EQ(error_of("{{ x + 1 }}"), "chat template line 1, column 6: 'x' is undefined");
  EXPECT_EQ(error_of("{{ [].append(1) }}"),
            "chat template line 1, column 6: access to attribute 'append' of 'list' object is unsafe (the sandbox "
            "forbids modifying values)");
  EXPECT_EQ(error_of("{% set ns = namespace() %}{% set ns._x = 1 %}"),
            "chat template line 1, column 30: chat templates cannot store underscore-prefixed attributes on a namespace");
}

TEST(ChatTemplate, HostileTemplatesStayBounded) {
  EXPECT_NE(error_of("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}").find("steps"),
            std::string::npos);
  EXPECT_NE(error_of("{{ 'x' * 100000000 }}").find("repetition exceeds the limit of 16777216 bytes"), std::string::npos);
  EXPECT_NE(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("nested deeper"), std::string::npos);
  EXPECT_NE(error_of("{{" + std::string(300, '(') + "1" + std::string(300, ')') + "}}").find("deeper than 200"),
            std::string::npos);
}

std::string error_with(const std::string& source, const RenderOptions& o) {
  try {
    ChatTemplate(source).render(nlohmann::ordered_json::object(), o);
  } catch (const Error& e) {
    return e.what();
  }
  return "(rendered)";
}

TEST(ChatTemplate, RenderBudgetsAreOptionsAndNamedInTheError) {
  RenderOptions o;
  o.max_steps = 50;
  o.max_bytes = 100;
  // 24 iterations x 2 steps (the iteration, the data node) + the loop itself fit in 50; 25 do not.
  EXPECT_EQ(error_with("{% for i in range(24) %}x{% endfor %}", o), "(rendered)");
  EXPECT_EQ(error_with("{% for i in range(25) %}x{% endfor %}", o),
            "chat template line 1, column 25: rendering exceeds the limit of 50 steps");
  // An inline loop filter counts its tests too.
  EXPECT_NE(error_with("{% for i in range(99) if i > 98 %}{% endfor %}", o).find("limit of 50 steps"), std::string::npos);
  EXPECT_EQ(error_with("{{ 'x' * 100 }}", o), "(rendered)");
  EXPECT_EQ(error_with("{{ 'x' * 101 }}", o), "chat template line 1, column 8: repetition exceeds the limit of 100 bytes");
  EXPECT_EQ(error_with("{{ 'x' * 60 }}{{ 'y' * 60 }}", o),
            "chat template line 1, column 15: output exceeds the limit of 100 bytes");
  EXPECT_NE(error_with("{{ ('x' * 60) ~ ('y' * 60) }}", o).find("string exceeds the limit of 100 bytes"), std::string::npos);
  EXPECT_NE(error_with("{{ range(101) | list }}", o).find("range() exceeds the limit of 100 bytes"), std::string::npos);
  EXPECT_NE(error_with("{{ range(0, 202, 2) | list }}", o).find("range() exceeds"), std::string::npos);
  EXPECT_EQ(error_with("{{ range(0, 200, 2) | length }}{{ range(5, -95, -1) | length }}{{ range(3, 1) | length }}", o),
            "(rendered)");
  EXPECT_NE(error_with("{{ ['a'] * 101 }}", o).find("repetition exceeds the limit of 100 bytes"), std::string::npos);
  // The budget is per render: the next render on the same thread has the default again.
  EXPECT_EQ(error_with("{{ 'x' * 101 }}", RenderOptions{}), "(rendered)");
}

// fuzz/fuzz_chat_template.cc renders with max_steps 10000 and max_bytes 16 KiB: every golden case of the real
// families' templates must render the same within those, or the harness would cut off what real use reaches.
TEST(ChatTemplate, GoldensRenderWithinTheFuzzBudgets) {
  auto g = load_goldens();
  RenderOptions opts = fixed_clock(g["now"]);
  opts.max_steps = 10000;
  opts.max_bytes = 16 << 10;
  int rendered = 0;
  for (const auto& c : g["cases"]) {
    if (!c.contains("output")) continue;
    ChatTemplate t(g["templates"][c["template"].get<std::string>()].get<std::string>());
    bool failed;
    std::string out = render_or_error(t, c["context"], opts, &failed);
    ASSERT_FALSE(failed) << c["template"] << " / " << c["chat"] << ": " << out;
    EXPECT_EQ(out, c["output"].get<std::string>());
    ++rendered;
  }
  EXPECT_GT(rendered, 300);
}

TEST(ChatTemplate, UndefinedFollowsJinjaDefaultUndefined) {
  ChatTemplate t("[{{ missing }}][{{ missing | length }}][{% for x in missing %}x{% endfor %}]"
                 "[{{ missing is defined }}][{{ 'a' ~ missing ~ 'b' }}][{{ missing == missing }}][{{ d.k is defined }}]");
  EXPECT_EQ(t.render({{"d", nlohmann::ordered_json::object()}}), "[][0][][False][ab][True][False]");
}

}  // namespace
}  // namespace jitgen::chat
