#pragma once
// What a model folder says about chatting, as transformers' apply_chat_template uses it, taken from the folder's
// Tokenizer (which reads tokenizer_config.json, special_tokens_map.json and chat_template.jinja once, as
// transformers 5 does): the chat template (chat_template.jinja, else tokenizer_config.json "chat_template", a
// string or the "default" entry of HF's list of named templates) and the special tokens apply_chat_template passes
// to the template as variables (bos_token, eos_token, unk_token, sep_token, pad_token, cls_token, mask_token: the
// ones the folder sets).
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "jitgen/tokenizer.h"

namespace jitgen::chat {

struct ChatConfig {
  std::optional<std::string> chat_template;  // none: the folder has no chat template
  nlohmann::ordered_json special_tokens = nlohmann::ordered_json::object();  // {"bos_token": "<s>", ...}
};

ChatConfig chat_config(const Tokenizer& tokenizer);

}  // namespace jitgen::chat
