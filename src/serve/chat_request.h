#pragma once
// POST /v1/chat/completions: OpenAI's chat request, rendered through the model's chat template (as
// transformers' apply_chat_template(messages, tools=..., add_generation_prompt=True) renders it) and then run
// exactly as a /v1/completions request on the rendered prompt's token ids: same scheduler (one continuous
// batch for both routes), same HF options under HF names, same validation. Generation ends at the model's
// generation_config eos ids (a chat model lists its end-of-turn tokens there).
#include <memory>
#include <optional>
#include <string>

#include "chat/chat_config.h"
#include "chat/chat_template.h"
#include "serve/completion_request.h"

namespace jitgen::serve {

// The chat template of the served model (its tokenizer's), parsed once at start-up.
struct ServedChat {
  std::unique_ptr<chat::ChatTemplate> tmpl;  // null: no template (or it does not parse: see error)
  std::string error;                         // why there is no template, for the 400 a chat request gets
  nlohmann::ordered_json special_tokens = nlohmann::ordered_json::object();
};
// `model_dir` names the folder in messages ("" = the built-in default model).
ServedChat load_served_chat(const Tokenizer& tokenizer, const std::string& model_dir);

struct ChatRequest {
  CompletionRequest completion;  // prompts = {the rendered prompt's ids}
  std::string prompt_text;       // the rendered prompt
  bool top_logprobs_asked = false;
};

// Throws ApiError (400 naming the field; 400 when the template cannot render the messages, saying why).
ChatRequest parse_chat_request(const std::string& body, const ServedModel& model, const ServedChat& chat);

// Renders messages (OpenAI shape) to the prompt text; shared with `jitgen chat`. Text content parts are
// joined into one string; keys whose value is null are dropped (as transformers does).
std::string render_chat_prompt(const ServedChat& chat, const nlohmann::ordered_json& messages,
                               const nlohmann::ordered_json& tools, const nlohmann::ordered_json& template_kwargs);

}  // namespace jitgen::serve
