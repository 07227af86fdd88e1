// jitgen chat: a terminal chat with a model folder's chat template. Each user turn is rendered with the whole
// history through the template (as transformers' apply_chat_template(..., add_generation_prompt=True)),
// generated with the model's generation_config (its eos ids end the turn) and streamed to stdout; the reply joins
// the history. /reset forgets the history (the --system message stays), /exit (or end of input) leaves. With
// stdin not a terminal, every line is one user turn and each reply is printed followed by a newline.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chat/chat_config.h"
#include "chat/chat_template.h"
#include "commands.h"
#include "generate/streamer.h"
#include "jitgen/engine.h"
#include "jitgen/error.h"
#include "jitgen/generation_config.h"
#include "models/model_impl.h"

namespace jitgen::cli {
namespace {

using ojson = nlohmann::ordered_json;

struct ChatFlags {
  ModelFlag model;
  std::string system;
  int max_new_tokens = 256;
  bool do_sample = false;
  double temperature = 1.0, top_p = 1.0;
  int top_k = 50;
  uint64_t seed = 0;
};

int run_chat(const ChatFlags& f) {
  Model model = f.model.load_model();
  Tokenizer tokenizer = f.model.load_tokenizer();
  const chat::ChatConfig cc = chat::chat_config(tokenizer);
  if (!cc.chat_template)
    throw_invalid_file(fmt::format("--model {}: the folder has no chat template (tokenizer_config.json "
                                   "\"chat_template\" or chat_template.jinja)",
                                   f.model.dir.empty() ? "(built-in default kjv-llama-5m)" : f.model.dir));
  const chat::ChatTemplate tmpl(*cc.chat_template);

  nlohmann::json overrides = {{"max_new_tokens", f.max_new_tokens}, {"do_sample", f.do_sample}};
  if (f.do_sample) {
    overrides["temperature"] = f.temperature;
    overrides["top_p"] = f.top_p;
    overrides["top_k"] = f.top_k;
    overrides["seed"] = nlohmann::json::array({f.seed & 0xffffffffu, f.seed >> 32});
  }
  const GenerationConfig cfg = resolve_generation_config(model.impl().generation_defaults, overrides);
  const Engine engine(model);
  const bool interactive = isatty(0) && isatty(2);

  ojson messages = ojson::array();
  auto reset = [&] {
    messages = ojson::array();
    if (!f.system.empty()) messages.push_back({{"role", "system"}, {"content", f.system}});
  };
  reset();
  std::string line;
  while (true) {
    if (interactive) std::cerr << "> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      reset();
      if (interactive) std::cerr << "(history cleared)\n";
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", line}});
    ojson ctx = cc.special_tokens;
    ctx["messages"] = messages;
    ctx["tools"] = nullptr;
    ctx["documents"] = nullptr;
    ctx["add_generation_prompt"] = true;
    const std::string prompt = tmpl.render(ctx);
    const std::vector<int32_t> ids = tokenizer.encode(prompt, /*add_special_tokens=*/false);  // as apply_chat_template
    if (ids.empty()) throw_invalid_argument("chat: the rendered prompt encodes to no tokens");
    GenerationConfig turn = cfg;
    turn.max_new_tokens = std::min<int>(cfg.max_new_tokens.value_or(f.max_new_tokens),
                                        model.info().n_positions - static_cast<int>(ids.size()));
    if (*turn.max_new_tokens < 1)
      throw_limit(fmt::format("chat: the conversation ({} tokens) fills the model's context of {} tokens; /reset "
                              "starts over", ids.size(), model.info().n_positions));
    validate(turn, model.info().n_positions, static_cast<int>(ids.size()));

    decoding::TextStreamer streamer = decoding::TextStreamer::from_tokenizer(tokenizer, true);
    std::vector<int32_t> reply;
    bool done = false;
    auto on_step = [&](int, const std::vector<int32_t>& tokens) {
      if (done) return;
      if (std::find(turn.eos_token_id.begin(), turn.eos_token_id.end(), tokens[0]) != turn.eos_token_id.end()) {
        done = true;  // the end-of-turn token: not part of the reply
        return;
      }
      reply.push_back(tokens[0]);
      std::cout << streamer.put(tokens[0]) << std::flush;
    };
    engine.generate(GenerateInput{{ids}, {std::vector<int32_t>(ids.size(), 1)}}, turn, on_step, &tokenizer);
    std::cout << streamer.finish() << "\n" << std::flush;
    messages.push_back({{"role", "assistant"}, {"content", tokenizer.decode(reply, true)}});
  }
  return 0;
}

}  // namespace

Subcommand register_chat(CLI::App& parent) {
  auto f = std::make_shared<ChatFlags>();
  CLI::App* cmd = parent.add_subcommand(
      "chat", "Chat in the terminal through the model's chat template (/reset, /exit; piped stdin: one turn per line)");
  f->model.add_to(cmd);
  cmd->add_option("--system", f->system, "A system message at the start of the conversation");
  cmd->add_option("--max-new-tokens", f->max_new_tokens, "Most tokens per reply")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_flag("--do-sample", f->do_sample, "Sample (else greedy)");
  cmd->add_option("--temperature", f->temperature, "With --do-sample")->capture_default_str();
  cmd->add_option("--top-p", f->top_p, "With --do-sample")->capture_default_str();
  cmd->add_option("--top-k", f->top_k, "With --do-sample")->capture_default_str();
  cmd->add_option("--seed", f->seed, "With --do-sample: the Philox key (as generate's --seed N)")->capture_default_str();
  return {cmd, [f] { return run_chat(*f); }};
}

}  // namespace jitgen::cli
