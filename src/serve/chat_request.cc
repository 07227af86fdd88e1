#include "serve/chat_request.h"

#include <set>

#include <fmt/format.h>

#include "jitgen/error.h"

namespace jitgen::serve {

using ojson = nlohmann::ordered_json;

namespace {

ApiError bad(const std::string& param, const std::string& message) { return ApiError(400, message, param); }

const std::set<std::string> kChatFields = {
    // OpenAI
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stream",
    "stream_options", "logprobs", "top_logprobs", "stop", "seed", "user", "presence_penalty", "frequency_penalty",
    "logit_bias", "tools", "tool_choice", "parallel_tool_calls", "response_format",
    // jitgen / vLLM: extra variables for the template (e.g. {"enable_thinking": false})
    "chat_template_kwargs",
    // HF generate() extensions, as on /v1/completions
    "top_k", "min_p", "typical_p", "repetition_penalty", "no_repeat_ngram_size", "num_beams", "length_penalty",
    "early_stopping", "min_tokens", "ignore_eos",
    // kHfProcessorFields
    "epsilon_cutoff", "eta_cutoff", "top_h", "encoder_repetition_penalty", "sequence_bias", "suppress_tokens",
    "begin_suppress_tokens", "forced_bos_token_id", "forced_eos_token_id", "exponential_decay_length_penalty",
    "remove_invalid_values", "renormalize_logits"};

// Fields copied unchanged into the /v1/completions body that runs the request.
const char* const kPassThrough[] = {"model", "temperature", "top_p", "n", "stream", "stream_options", "stop",
                                    "seed", "user", "presence_penalty", "frequency_penalty", "logit_bias",
                                    "top_k", "min_p", "typical_p", "repetition_penalty", "no_repeat_ngram_size",
                                    "num_beams", "length_penalty", "early_stopping", "min_tokens", "ignore_eos",
                                    "epsilon_cutoff", "eta_cutoff", "top_h", "encoder_repetition_penalty",
                                    "sequence_bias", "suppress_tokens", "begin_suppress_tokens",
                                    "forced_bos_token_id", "forced_eos_token_id",
                                    "exponential_decay_length_penalty", "remove_invalid_values",
                                    "renormalize_logits"};

ojson normalise_messages(const ojson& messages) {
  if (!messages.is_array() || messages.empty())
    throw bad("messages", "'messages' must be a non-empty list of {\"role\", \"content\"} objects");
  ojson out = ojson::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const ojson& m = messages[i];
    const std::string where = fmt::format("messages[{}]", i);
    if (!m.is_object()) throw bad("messages", where + " must be an object");
    if (!m.contains("role") || !m["role"].is_string())
      throw bad("messages", where + ".role is required and must be a string");
    ojson msg = ojson::object();
    for (const auto& [k, v] : m.items()) {
      if (v.is_null()) continue;  // transformers drops None values (content=None next to tool_calls)
      if (k == "content" && v.is_array()) {
        std::string text;
        for (size_t p = 0; p < v.size(); ++p) {
          const ojson& part = v[p];
          if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
              !part["text"].is_string())
            throw bad("messages", fmt::format("{}.content[{}]: only text content parts "
                                              "({{\"type\": \"text\", \"text\": ...}}) are supported", where, p));
          if (p) text += "\n";
          text += part["text"].get<std::string>();
        }
        msg[k] = text;
      } else if (k == "content" && !v.is_string()) {
        throw bad("messages", where + ".content must be a string or a list of text parts");
      } else {
        msg[k] = v;
      }
    }
    out.push_back(std::move(msg));
  }
  return out;
}

}  // namespace

ServedChat load_served_chat(const Tokenizer& tokenizer, const std::string& model_dir) {
  ServedChat c;
  chat::ChatConfig cfg = chat::chat_config(tokenizer);
  c.special_tokens = cfg.special_tokens;
  if (!cfg.chat_template && model_dir.empty()) {
    c.error = "the served model (the built-in default) has no chat template";
    return c;
  }
  if (!cfg.chat_template) {
    c.error = fmt::format("the model folder {} has no chat template (tokenizer_config.json \"chat_template\" or "
                          "chat_template.jinja); use /v1/completions",
                          model_dir);
    return c;
  }
  try {
    c.tmpl = std::make_unique<chat::ChatTemplate>(*cfg.chat_template);
  } catch (const Error& e) {
    c.error = fmt::format("the chat template of {} does not parse: {}", model_dir.empty() ? "the model" : model_dir,
                          e.what());
  }
  return c;
}

std::string render_chat_prompt(const ServedChat& chat, const ojson& messages, const ojson& tools,
                               const ojson& template_kwargs) {
  if (!chat.tmpl) throw ApiError(400, chat.error, "messages");
  ojson ctx = chat.special_tokens;
  ctx["messages"] = normalise_messages(messages);
  ctx["tools"] = tools;
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = true;
  if (template_kwargs.is_object())
    for (const auto& [k, v] : template_kwargs.items()) ctx[k] = v;
  try {
    return chat.tmpl->render(ctx);
  } catch (const Error& e) {
    throw ApiError(400, fmt::format("the model's chat template cannot render these messages: {}", e.what()),
                   "messages");
  }
}

ChatRequest parse_chat_request(const std::string& text, const ServedModel& m, const ServedChat& chat) {
  // Ordered: the template must see tools, messages and tool-call arguments with their keys as sent.
  const ojson body = parse_request_body<ojson>(text, kChatFields);
  auto has = [&](const char* k) { return body.contains(k) && !body[k].is_null(); };
  if (!has("messages")) throw bad("messages", "'messages' is required");
  if (has("tools") && !body["tools"].is_array()) throw bad("tools", "'tools' must be a list of tool definitions");
  if (has("tool_choice") && body["tool_choice"] != "none" && body["tool_choice"] != "auto")
    throw bad("tool_choice", "'tool_choice' other than \"auto\" or \"none\" is not supported (no constrained decoding)");
  if (has("response_format") && body["response_format"].value("type", "") != "text")
    throw bad("response_format", "'response_format' other than {\"type\": \"text\"} is not supported");
  if (has("chat_template_kwargs") && !body["chat_template_kwargs"].is_object())
    throw bad("chat_template_kwargs", "'chat_template_kwargs' must be an object");

  ChatRequest r;
  const bool no_tools = has("tool_choice") && body["tool_choice"] == "none";
  r.prompt_text = render_chat_prompt(chat, body["messages"], has("tools") && !no_tools ? body["tools"] : ojson(nullptr),
                                     has("chat_template_kwargs") ? body["chat_template_kwargs"] : ojson(nullptr));
  // apply_chat_template tokenizes with add_special_tokens=False: the template writes the bos itself.
  const std::vector<int32_t> ids = m.tokenizer->encode(r.prompt_text, /*add_special_tokens=*/false);
  if (ids.empty()) throw bad("messages", "the rendered prompt is empty (at least one token is needed)");

  ojson c = ojson::object();  // the /v1/completions body that runs the request
  for (const char* k : kPassThrough)
    if (body.contains(k)) c[k] = body[k];
  c["prompt"] = ids;
  // max_completion_tokens is the current name, max_tokens the deprecated one; without either the completion
  // may fill the context (OpenAI's chat default).
  if (has("max_completion_tokens")) c["max_tokens"] = body["max_completion_tokens"];
  else if (has("max_tokens")) c["max_tokens"] = body["max_tokens"];
  else c["max_tokens"] = std::max<int64_t>(0, int64_t(m.n_positions) - int64_t(ids.size()));
  if (has("logprobs")) {
    if (!body["logprobs"].is_boolean()) throw bad("logprobs", "'logprobs' must be true or false");
  }
  const bool want_logprobs = has("logprobs") && body["logprobs"].get<bool>();
  if (has("top_logprobs")) {
    if (!want_logprobs) throw bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    c["logprobs"] = body["top_logprobs"];
    r.top_logprobs_asked = true;
  } else if (want_logprobs) {
    c["logprobs"] = 0;
  }
  try {
    r.completion = parse_completion_request(c.dump(), m);
  } catch (ApiError& e) {
    if (e.param == "prompt") e.param = "messages";
    if (e.param == "logprobs" && r.top_logprobs_asked) e.param = "top_logprobs";
    throw;
  }
  return r;
}

}  // namespace jitgen::serve
