#pragma once
// Chat templates: the Jinja subset Hugging Face chat templates use, rendered exactly as transformers'
// apply_chat_template renders them with Python jinja2 (src/transformers/utils/chat_template_utils.py:
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]), globals
// raise_exception / strftime_now / namespace / dict, and tojson = json.dumps(ensure_ascii=False, ...)).
//
//   ChatTemplate t(tokenizer_config["chat_template"]);        // throws jitgen::Error naming line and column
//   std::string prompt = t.render({{"messages", msgs}, {"add_generation_prompt", true},
//                                  {"bos_token", "<s>"}, {"eos_token", "</s>"}});
//
// Errors (jitgen::Error, kInvalidArgument): "chat template line L, column C: <what>" for syntax errors and for
// render errors (unknown filter, undefined value used, type errors), and "chat template line L, column C:
// raise_exception: <message>" when the template itself raises.
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace jitgen::chat {

struct Program;

struct RenderOptions {
  std::optional<std::tm> now;  // the local time strftime_now() formats; default: the clock
  // Budgets that keep a hostile or runaway template finite (untrusted Hub templates, server requests); over
  // either, render() throws "chat template line L, column C: rendering exceeds the limit of N steps" (or
  // "... N bytes"). The defaults are far above what real templates need: the longest golden case (Llama 3.1
  // with tools) takes a few hundred steps and a few KB; the fuzz harness runs with 10000 steps and 64 KiB, and
  // tests/chat_template_test.cc checks every golden case renders within those.
  int64_t max_steps = 1'000'000;     // statements executed, loop iterations and macro calls included
  size_t max_bytes = size_t(16) << 20;  // the output, and any one string (bytes) or list (items) built
};

class ChatTemplate {
 public:
  explicit ChatTemplate(const std::string& source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // `context` is a JSON object: every key becomes a template variable (messages, tools, documents,
  // add_generation_prompt, bos_token, ... as apply_chat_template passes them).
  std::string render(const nlohmann::ordered_json& context, const RenderOptions& options = {}) const;

  // Whether the template source mentions a name (e.g. "tools"), as transformers checks before passing tools.
  const std::string& source() const;

 private:
  std::unique_ptr<Program> program_;
};

}  // namespace jitgen::chat
