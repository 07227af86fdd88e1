#pragma once
// Stopping criteria with transformers 5.24.0 semantics (generation/stopping_criteria.py). All are stateless checks
// over a row's full input_ids (pads + prompt + generated), so they work unchanged on reordered beam candidates.
//  - EosTokenCriteria: the last token is one of the EOS ids.
//  - MaxLengthCriteria: len >= max_length (max_length counts the padded prompt).
//  - MaxTimeCriteria: wall time since construction > max_time (all rows at once).
//  - StopStringCriteria: some stop string ends inside the LAST token and the tokens before it spell the rest of the
//    string (the string may start inside an earlier token and may be covered by several tokens; bytes after the
//    string's end inside the last token are allowed). A stop string that is present but does not overlap the last
//    token does not match (HF: ["stop", "at"] does not trigger). The prompt counts: a generated first token can
//    complete a string begun in the prompt. Matching is on raw bytes (HF "byte_level" mode for GPT-2); at most
//    max(len(stop string bytes)) trailing tokens are examined, so a check costs O(len(stop string)) per row.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace jitgen {
class Tokenizer;
}

namespace jitgen::decoding {

bool is_eos(int32_t token, const std::vector<int32_t>& eos);

class StopStringMatcher {
 public:
  // token_bytes[id] = the bytes token `id` decodes to (special tokens: their literal text, as HF's byte-level
  // vocabulary gives). Throws kInvalidArgument for an empty stop string.
  StopStringMatcher(std::vector<std::string> token_bytes, std::vector<std::string> stop_strings);
  static StopStringMatcher from_tokenizer(const Tokenizer& tokenizer, std::vector<std::string> stop_strings);

  // True when the row ids[0..len) ends a stop string (see above).
  bool matches(const int32_t* ids, int len) const;
  bool empty() const { return stops_.empty(); }

 private:
  bool matches_one(const std::string& stop, const int32_t* ids, int len) const;
  std::vector<std::string> token_bytes_;
  std::vector<std::string> stops_;
  int window_ = 0;  // HF maximum_token_len
};

// The criteria list generate() builds (HF _get_stopping_criteria order does not matter: results are OR-ed).
class StoppingCriteria {
 public:
  StoppingCriteria(int max_length, std::vector<int32_t> eos, std::optional<double> max_time,
                   std::optional<StopStringMatcher> stop_strings = std::nullopt);
  // True when this row (its full ids, including the token just chosen) must stop.
  bool row_done(const int32_t* ids, int len) const;
  bool time_exceeded() const;
  const std::optional<StopStringMatcher>& stop_strings() const { return stop_; }

 private:
  int max_length_;
  std::vector<int32_t> eos_;
  std::optional<double> max_time_;
  std::optional<StopStringMatcher> stop_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace jitgen::decoding
