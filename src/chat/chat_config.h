#pragma once
// What a model folder says about chatting, read as transformers reads it: the chat template
// (chat_template.jinja, else tokenizer_config.json "chat_template", a string or HF's list of
// {"name", "template"} where "default" is the one used) and the special tokens apply_chat_template passes to
// the template (bos_token, eos_token, unk_token, pad_token, ... from tokenizer_config.json, overridden by
// special_tokens_map.json; a token may be a string or an AddedToken object {"content": ...}).
//
// A small loader of its own until the Tokenizer exposes these (the tokenizer issue adds accessors).
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace jitgen::chat {

struct ChatConfig {
  std::optional<std::string> chat_template;  // none: the folder has no chat template
  std::string template_source;               // where it came from (file path), for messages
  nlohmann::ordered_json special_tokens = nlohmann::ordered_json::object();  // {"bos_token": "<s>", ...}
};

// Missing files are not errors (a base model has no template). Malformed JSON or a chat_template of the wrong
// type throws jitgen::Error (kInvalidFile) naming the file and field.
ChatConfig load_chat_config(const std::string& model_dir);

}  // namespace jitgen::chat
