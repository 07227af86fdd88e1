#include "generate/continuation.h"

namespace jitgen::decoding {

std::string continuation_text(const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                              const std::vector<int32_t>& fresh, bool skip_special_tokens) {
  if (prompt.empty()) return tokenizer.decode(fresh, skip_special_tokens);
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), fresh.begin(), fresh.end());
  const std::string whole = tokenizer.decode(all, skip_special_tokens);
  const std::string head = tokenizer.decode(prompt, skip_special_tokens);
  if (whole.size() >= head.size() && whole.compare(0, head.size(), head) == 0) return whole.substr(head.size());
  return tokenizer.decode(fresh, skip_special_tokens);
}

std::string continuation_join(const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                              const std::vector<int32_t>& fresh, bool skip_special_tokens) {
  const std::string whole = continuation_text(tokenizer, prompt, fresh, skip_special_tokens);
  const std::string alone = tokenizer.decode(fresh, skip_special_tokens);
  if (whole.size() > alone.size() && whole.compare(whole.size() - alone.size(), alone.size(), alone) == 0)
    return whole.substr(0, whole.size() - alone.size());
  return "";
}

}  // namespace jitgen::decoding
