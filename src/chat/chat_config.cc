#include "chat/chat_config.h"

namespace jitgen::chat {

ChatConfig chat_config(const Tokenizer& tokenizer) {
  ChatConfig c;
  if (!tokenizer.chat_template().empty()) c.chat_template = tokenizer.chat_template();
  // transformers' SPECIAL_TOKENS_ATTRIBUTES, in its order
  for (const char* k : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"})
    if (auto s = tokenizer.special_token(k)) c.special_tokens[k] = *s;
  return c;
}

}  // namespace jitgen::chat
