// Chat-template parser + evaluator (src/chat). The input is a template source; it is parsed and, when it
// parses, rendered against a fixed chat (system / user / assistant with tool calls, tools, documents), so
// lexer, parser, every filter / test / method and the evaluator's limits (steps, output size, nesting) are
// exercised. A jitgen::Error (syntax or render error) is the expected outcome for most inputs; anything
// else escaping, a sanitizer report, a hang past -timeout or a huge allocation is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "chat/chat_template.h"
#include "fuzz_util.h"

namespace {
const nlohmann::ordered_json& context() {
  static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "Be brief. ✓"},
      {"role": "user", "content": "Hi <think>x</think> there"},
      {"role": "assistant", "content": "", "tool_calls": [{"id": "abc123456", "type": "function",
        "function": {"name": "f", "arguments": {"a": 1, "b": [true, null, 2.5]}}}]},
      {"role": "tool", "content": "42", "tool_call_id": "abc123456"},
      {"role": "user", "content": [{"type": "text", "text": "part"}, {"type": "image"}]}
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "documents": [{"title": "t", "text": "d"}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"
  })");
  return ctx;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string source(reinterpret_cast<const char*>(data), size);
  jitgen::fuzz::expect_clean([&] {
    jitgen::chat::ChatTemplate t(source);
    jitgen::chat::RenderOptions o;
    o.now = std::tm{};
    // The renderer's own budgets, lowered: every golden case of the real families' templates renders within
    // them (ChatTemplate.GoldensRenderWithinTheFuzzBudgets; the longest golden output is 4 KB), so nothing real
    // is cut off, while a mutated `range(99999)` loop or `"x" * 9999999` stops after milliseconds instead of
    // seconds (with the defaults, 1M steps and 16 MiB, such inputs cost 0.1 to 15 s each under ASan;
    // fuzz/README.md).
    o.max_steps = 10000;
    o.max_bytes = 16 << 10;
    (void)t.render(context(), o);
  });
  return 0;
}
