#pragma once
// Job: one prompt of a completion request with its n choices, shared by the HTTP thread that waits for its
// output and the scheduler thread that produces it token by token. The scheduler pushes ChoiceEvents; the
// HTTP side drains them (streamed as SSE chunks, or gathered into one response) and may cancel the job
// (client gone): the scheduler frees its slots at the next step boundary.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "serve/completion_request.h"

namespace jitgen::serve {

// A token's text is what it adds to the choice's text in context (the row's DecodeStream step, skip_special_tokens):
// the tokens of a choice concatenate to its text (special tokens add "", a byte-fallback token that ends inside a
// character adds "" and the token that completes it the character). An alternative's text is what it would have
// added at that point.
struct TokenLogprob {
  std::string token;        // the token's text in context
  std::optional<float> logprob;  // none for the first prompt token (echo)
  std::vector<std::pair<std::string, float>> top;  // the `logprobs` most likely tokens, best first
  int text_offset = 0;      // offset of the token in the choice's text, in characters (Unicode code points)
};

struct ChoiceEvent {
  int choice = 0;          // 0 .. n-1 within the job
  std::string text;        // a delta; never splits a UTF-8 character
  std::vector<TokenLogprob> logprobs;  // the tokens behind this delta (when logprobs were asked for)
  std::string finish_reason;           // "" while running, then "stop" or "length"
};

// Wakes whoever waits for any of a request's jobs (one per prompt): version moves on every event.
class Signal {
 public:
  void notify();
  uint64_t version() const;
  // Waits until the version differs from `seen` or `timeout` passes; returns the current version.
  uint64_t wait(uint64_t seen, std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t version_ = 0;
};

class Job {
 public:
  Job(std::vector<int32_t> prompt, const CompletionRequest& request, std::shared_ptr<Signal> signal);

  const std::vector<int32_t> prompt;
  const int n, max_tokens;
  const std::optional<int> logprobs;
  const bool echo;
  const bool continue_prompt_text;  // CompletionRequest::continue_prompt_text
  const std::vector<std::string> stop;
  const GenerationConfig config;
  const std::chrono::steady_clock::time_point submitted = std::chrono::steady_clock::now();

  // HTTP side. Moves the events produced so far into `out`; returns false once the job is over (the events
  // moved by that call are its last; error() then tells whether it failed). Wait on the Signal between calls.
  bool take(std::vector<ChoiceEvent>& out);
  void cancel();
  bool cancelled() const;
  std::optional<std::string> error() const;
  int completion_tokens() const;

  // Scheduler side.
  void push(ChoiceEvent e);
  void add_tokens(int n);
  void finish();                       // every choice has its finish_reason
  void fail(const std::string& message);
  // When the job's first token was chosen (time to first token), if it was.
  std::optional<std::chrono::steady_clock::time_point> first_token_time() const;

 private:
  std::shared_ptr<Signal> signal_;
  mutable std::mutex mu_;
  std::vector<ChoiceEvent> events_;
  bool over_ = false, cancelled_ = false;
  std::optional<std::string> error_;
  int completion_tokens_ = 0;
  std::optional<std::chrono::steady_clock::time_point> first_token_;
};

}  // namespace jitgen::serve
