#include "generate/stopping.h"

#include <algorithm>
#include <cstring>

#include "jitgen/error.h"
#include "jitgen/tokenizer.h"

namespace jitgen::decoding {

bool is_eos(int32_t token, const std::vector<int32_t>& eos) {
  return std::find(eos.begin(), eos.end(), token) != eos.end();
}

StopStringMatcher::StopStringMatcher(std::vector<std::string> token_bytes, std::vector<std::string> stop_strings)
    : token_bytes_(std::move(token_bytes)), stops_(std::move(stop_strings)) {
  for (const auto& s : stops_) {
    if (s.empty()) throw_invalid_argument("stop_strings: empty string; expected non-empty strings");
    window_ = std::max(window_, static_cast<int>(s.size()));
  }
}

StopStringMatcher StopStringMatcher::from_tokenizer(const Tokenizer& tokenizer, std::vector<std::string> stop_strings) {
  std::vector<std::string> table(tokenizer.vocab_size());
  for (int i = 0; i < tokenizer.vocab_size(); ++i) table[i] = tokenizer.token_bytes(i);
  return StopStringMatcher(std::move(table), std::move(stop_strings));
}

bool StopStringMatcher::matches(const int32_t* ids, int len) const {
  for (const auto& s : stops_)
    if (matches_one(s, ids, len)) return true;
  return false;
}

bool StopStringMatcher::matches_one(const std::string& stop, const int32_t* ids, int len) const {
  if (len <= 0) return false;
  const int n_tok = static_cast<int>(token_bytes_.size());
  auto bytes_of = [&](int32_t id) -> const std::string* {
    return (id >= 0 && id < n_tok) ? &token_bytes_[id] : nullptr;  // out of vocabulary: never matches
  };
  const std::string* last = bytes_of(ids[len - 1]);
  if (!last) return false;
  const int S = static_cast<int>(stop.size());
  const int first = std::max(0, len - window_);  // HF looks at the last maximum_token_len tokens only
  // Every end overlap: the stop string's last byte at position i of the last token.
  for (int i = 0; i < static_cast<int>(last->size()); ++i) {
    if ((*last)[i] != stop[S - 1]) continue;
    const int overlap = std::min(i + 1, S);
    if (std::memcmp(last->data() + (i + 1 - overlap), stop.data() + (S - overlap), overlap) != 0) continue;
    int matched = overlap;
    for (int t = len - 2; matched < S && t >= first; --t) {
      const std::string* tok = bytes_of(ids[t]);
      if (!tok) break;
      // The token must end with stop[..S - matched), running off the string's start if it is longer.
      const int tl = static_cast<int>(tok->size());
      const int r = std::min(tl, S - matched);
      if (std::memcmp(tok->data() + (tl - r), stop.data() + (S - matched - r), r) != 0) break;
      matched += tl;
    }
    if (matched >= S) return true;
  }
  return false;
}

StoppingCriteria::StoppingCriteria(int max_length, std::vector<int32_t> eos, std::optional<double> max_time,
                                   std::optional<StopStringMatcher> stop_strings)
    : max_length_(max_length),
      eos_(std::move(eos)),
      max_time_(max_time),
      stop_(std::move(stop_strings)),
      start_(std::chrono::steady_clock::now()) {}

bool StoppingCriteria::time_exceeded() const {
  if (!max_time_) return false;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return elapsed > *max_time_;
}

bool StoppingCriteria::row_done(const int32_t* ids, int len) const {
  if (len >= max_length_) return true;
  if (len > 0 && is_eos(ids[len - 1], eos_)) return true;
  if (stop_ && stop_->matches(ids, len)) return true;
  return time_exceeded();
}

}  // namespace jitgen::decoding
