#include "serve/job.h"

namespace jitgen::serve {

void Signal::notify() {
  {
    std::lock_guard lock(mu_);
    ++version_;
  }
  cv_.notify_all();
}

uint64_t Signal::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

uint64_t Signal::wait(uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return version_ != seen; });
  return version_;
}

Job::Job(std::vector<int32_t> prompt_ids, const CompletionRequest& r, std::shared_ptr<Signal> signal)
    : prompt(std::move(prompt_ids)),
      n(r.n),
      max_tokens(r.max_tokens),
      logprobs(r.logprobs),
      echo(r.echo),
      continue_prompt_text(r.continue_prompt_text),
      stop(r.stop),
      config(r.config),
      signal_(std::move(signal)) {}

bool Job::take(std::vector<ChoiceEvent>& out) {
  std::lock_guard lock(mu_);
  for (auto& e : events_) out.push_back(std::move(e));
  events_.clear();
  return !over_;
}

void Job::cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
}

bool Job::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

std::optional<std::string> Job::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

int Job::completion_tokens() const {
  std::lock_guard lock(mu_);
  return completion_tokens_;
}

void Job::push(ChoiceEvent e) {
  {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }
  signal_->notify();
}

void Job::add_tokens(int k) {
  std::lock_guard lock(mu_);
  if (k > 0 && !first_token_) first_token_ = std::chrono::steady_clock::now();
  completion_tokens_ += k;
}

void Job::finish() {
  {
    std::lock_guard lock(mu_);
    over_ = true;
  }
  signal_->notify();
}

void Job::fail(const std::string& message) {
  {
    std::lock_guard lock(mu_);
    error_ = message;
    over_ = true;
  }
  signal_->notify();
}

std::optional<std::chrono::steady_clock::time_point> Job::first_token_time() const {
  std::lock_guard lock(mu_);
  return first_token_;
}

}  // namespace jitgen::serve
