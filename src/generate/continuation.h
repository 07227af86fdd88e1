#pragma once
// The text that generated tokens add to their prompt, for printing after the prompt (the CLI's plain and streamed
// output; its --json "text" and the server's text are HF's decode of the new tokens alone).
#include <cstdint>
#include <string>
#include <vector>

#include "jitgen/tokenizer.h"

namespace jitgen::decoding {

// decode(prompt + fresh) with decode(prompt) cut off its front (HF's TextStreamer way of finding the new text
// within the whole decode), skip_special_tokens as given. For byte-level BPE (GPT-2) this is decode(fresh); a
// SentencePiece / Metaspace decoder (Llama) strips the space of the text's first token, so decode(fresh) alone
// would lose the space between prompt and continuation ("said," + "I am" instead of "said," + " I am"). Falls
// back to decode(fresh) when the whole decode does not start with the prompt's (a normalizer changed it).
// prompt: the prompt's ids without padding.
std::string continuation_text(const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                              const std::vector<int32_t>& fresh, bool skip_special_tokens);

// What continuation_text puts before decode(fresh): the joining space of a SentencePiece decoder, or "".
std::string continuation_join(const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                              const std::vector<int32_t>& fresh, bool skip_special_tokens);

}  // namespace jitgen::decoding
