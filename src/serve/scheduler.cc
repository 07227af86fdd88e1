#include "serve/scheduler.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "generate/stopping.h"
#include "generate/token_chooser.h"
#include "serve/slot_batch.h"

namespace jitgen::serve {

using decoding::DecodeRow;
using decoding::TokenChooser;

struct Scheduler::Row {
  int choice = 0;
  int slot = -1;  // -1 once finished
  DecodeRow decode;
  DecodeStream stream;     // skip_special_tokens; primed with the prompt when the text continues it
  // What the primed stream still held of the prompt's text when the row began (a ByteFallback run, an unfinished
  // character, ...): the prompt's text, not the completion's, so the row's first text drops it (continue_held).
  std::string held;
  std::string text;        // generated text so far (stop strings cut it)
  size_t emitted = 0;      // bytes of `text` already sent
  int generated = 0;
  std::vector<TokenLogprob> pending_logprobs;
};

struct Scheduler::Running {
  std::shared_ptr<Job> job;
  std::unique_ptr<TokenChooser> chooser;
  std::vector<Row> rows;
  size_t echo_chars = 0;  // code points of the prompt text in front of every choice (echo)
  int live = 0;
};

struct Scheduler::State {
  SlotBatch batch;
  std::vector<std::unique_ptr<Running>> running;
  std::vector<uint8_t> slot_used;
  std::vector<int32_t> token;
  std::vector<uint8_t> feed;
  State(const Model& m, const SchedulerOptions& o)
      : batch(m, o.slots, o.capacity, o.prompt_bucket), slot_used(o.slots, 0), token(o.slots, 0), feed(o.slots, 0) {}
  int free_slots() const { return static_cast<int>(std::count(slot_used.begin(), slot_used.end(), 0)); }
  int take_slot() {
    const int s = static_cast<int>(std::find(slot_used.begin(), slot_used.end(), 0) - slot_used.begin());
    slot_used[s] = 1;
    return s;
  }
  void give_back(int s) {
    batch.release(s);
    slot_used[s] = 0;
  }
};

namespace {

// Code points of UTF-8 text (OpenAI's and vLLM's text_offset count characters).
size_t utf8_chars(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The text `id` adds through `s` (a copy), with what s then holds back flushed.
std::string step_and_finish(DecodeStream s, int32_t id) {
  std::string t = s.step(id);
  return t + s.finish();
}

// What `id` would add after `context`, less `held` (what the context holds of the prompt, Scheduler::continue_held):
// or, where id decodes the held part otherwise, id's own text, as continue_held restarts the row's text.
std::string text_in_context(const DecodeStream& context, int32_t id, const std::string& held,
                            const Tokenizer& tokenizer) {
  const std::string t = step_and_finish(context, id);
  if (held.empty()) return t;
  if (t.compare(0, held.size(), held) == 0) return t.substr(held.size());
  return step_and_finish(DecodeStream(tokenizer, true), id);
}

// log_softmax(logits)[token] and the `top` most likely tokens, from the model's raw logits; the alternatives' text
// is what each would add after `context` (less `held`). The token's own text is the caller's (its stream step).
TokenLogprob logprob_of(const float* logits, int V, int32_t token, int top, const DecodeStream& context,
                        const std::string& held, const Tokenizer& tokenizer) {
  float mx = logits[0];
  for (int v = 1; v < V; ++v) mx = std::max(mx, logits[v]);
  double sum = 0;
  for (int v = 0; v < V; ++v) sum += std::exp(static_cast<double>(logits[v]) - mx);
  const double lse = mx + std::log(sum);
  TokenLogprob lp;
  lp.logprob = static_cast<float>(logits[token] - lse);
  std::vector<int32_t> best;  // ids of the top entries, kept sorted best first
  for (int v = 0; v < V && top > 0; ++v) {
    if (static_cast<int>(best.size()) == top && logits[v] <= logits[best.back()]) continue;
    auto at = std::upper_bound(best.begin(), best.end(), v, [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    best.insert(at, v);
    if (static_cast<int>(best.size()) > top) best.pop_back();
  }
  for (int32_t id : best)
    lp.top.emplace_back(text_in_context(context, id, held, tokenizer), static_cast<float>(logits[id] - lse));
  return lp;
}

// The largest cut <= n that does not split a UTF-8 character of s.
size_t utf8_floor(const std::string& s, size_t n) {
  while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace

Scheduler::Scheduler(Model model, const Tokenizer& tokenizer, SchedulerOptions options)
    : model_(std::move(model)), tokenizer_(tokenizer), options_(options) {
  if (options_.capacity <= 0) options_.capacity = model_.info().n_positions;
  if (options_.slots < 1) throw_invalid_argument(fmt::format("--max-batch must be >= 1, got {}", options_.slots));
  state_ = std::make_unique<State>(model_, options_);
  stats_.slots_total = options_.slots;
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { stop(); }

void Scheduler::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::submit(const std::shared_ptr<Job>& job) {
  if (job->n > options_.slots)
    throw ApiError(400, fmt::format("n = {} needs more rows than this server's batch has ({}, --max-batch)", job->n,
                                    options_.slots),
                   "n");
  if (static_cast<int>(job->prompt.size()) + job->max_tokens > options_.capacity)
    throw ApiError(400, fmt::format("prompt ({} tokens) + max_tokens ({}) exceed the server's context of {} tokens",
                                    job->prompt.size(), job->max_tokens, options_.capacity),
                   "max_tokens");
  {
    std::lock_guard lock(mu_);
    if (stopping_) throw ApiError(503, "the server is shutting down", "", "server_error");
    if (static_cast<int>(queue_.size()) >= options_.max_queue)
      throw ApiError(429, fmt::format("the server is busy: {} requests are already waiting", queue_.size()), "",
                     "rate_limit_error");
    queue_.push_back(job);
    stats_.queue_depth = static_cast<int64_t>(queue_.size());
  }
  cv_.notify_all();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Scheduler::loop() {
  State& st = *state_;
  for (;;) {
    std::vector<std::shared_ptr<Job>> admitted;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || !st.running.empty(); });
      if (stopping_) break;
      // FIFO: the head waits for enough free rows rather than being overtaken.
      int free = st.free_slots();
      while (!queue_.empty() && queue_.front()->n <= free) {
        free -= queue_.front()->n;
        admitted.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stats_.queue_depth = static_cast<int64_t>(queue_.size());
    }
    for (const auto& job : admitted) {
      if (job->cancelled()) {
        job->finish();
        continue;
      }
      admit(job);
    }
    if (!st.running.empty()) step();
    std::lock_guard lock(mu_);
    stats_.slots_busy = options_.slots - st.free_slots();
    const RunnerStats rs = st.batch.stats();
    stats_.cache_hits = rs.cache_hits;
    stats_.cache_misses = rs.cache_misses;
  }
  // Shutting down: nobody will produce these jobs' tokens.
  std::lock_guard lock(mu_);
  for (auto& job : queue_) job->fail("the server is shutting down");
  for (auto& run : st.running) run->job->fail("the server is shutting down");
  queue_.clear();
}

void Scheduler::admit(const std::shared_ptr<Job>& job) {
  State& st = *state_;
  const int V = model_.info().vocab_size, T = static_cast<int>(job->prompt.size());
  auto run = std::make_unique<Running>();
  run->job = job;
  try {
    run->chooser = std::make_unique<TokenChooser>(job->config, T, T + std::max(job->max_tokens, 1),
                                                  resolved_pad_token_id(job->config), std::nullopt);
    const int first_slot = st.take_slot();
    const bool prompt_logprobs = job->echo && job->logprobs.has_value();
    const float* logits = st.batch.prefill(first_slot, job->prompt, prompt_logprobs);
    {
      std::lock_guard lock(mu_);
      stats_.prompt_tokens += T;
    }
    // The prompt through a DecodeStream (skip_special_tokens, so a Llama <s> adds nothing): the echo text is
    // decode(prompt, skip_special_tokens) and each prompt token's text is its step (logprobs: none for the first).
    // A completion's rows continue this stream, so their text is decoded in the prompt's context.
    DecodeStream context(tokenizer_, true);
    std::string echo_text, held;
    std::vector<TokenLogprob> echo_lp;
    if (job->echo || job->continue_prompt_text) {
      for (int t = 0; t < T; ++t) {
        TokenLogprob lp;
        if (job->echo && job->logprobs && t > 0)
          lp = logprob_of(logits + static_cast<int64_t>(t - 1) * V, V, job->prompt[t], *job->logprobs, context, {},
                          tokenizer_);
        lp.token = context.step(job->prompt[t]);
        lp.text_offset = static_cast<int>(utf8_chars(echo_text));
        echo_text += lp.token;
        if (job->echo && job->logprobs) echo_lp.push_back(std::move(lp));
      }
      DecodeStream tail = context;  // what the stream still holds (an unfinished character): the echo shows it
      const std::string rest = tail.finish();
      echo_text += rest;
      held = rest;
      if (!echo_lp.empty()) echo_lp.back().token += rest;
    }
    if (prompt_logprobs) logits += static_cast<int64_t>(T - 1) * V;
    if (!job->echo) echo_text.clear();
    run->echo_chars = utf8_chars(echo_text);
    for (int j = 0; j < job->n; ++j) {
      Row row{j, j == 0 ? first_slot : st.take_slot(), {},
              job->continue_prompt_text ? context : DecodeStream(tokenizer_, true),
              job->continue_prompt_text ? held : std::string(), {}, 0, 0, {}};
      if (j > 0) st.batch.fork(first_slot, row.slot);
      row.decode.seq = job->prompt;
      row.decode.row = j;
      run->rows.push_back(std::move(row));
      if (job->echo) job->push({j, echo_text, echo_lp, ""});
    }
    run->live = job->n;
    if (job->max_tokens == 0) {  // echo / scoring only
      for (Row& row : run->rows) emit(*run, row, true, "length");
    } else {
      for (Row& row : run->rows) advance(*run, row, logits);
      job->add_tokens(job->n);
    }
  } catch (const std::exception& e) {
    drop_rows(*run);
    job->fail(e.what());
    return;
  }
  if (run->live == 0) retire(*run);
  else st.running.push_back(std::move(run));
}

// Sends what is safe to send of the row's text. Stop strings: the text ends before the first one found (and
// the row finishes there); while running, the last (longest stop - 1) bytes are held back in case a stop
// string is being completed.
void Scheduler::emit(Running& run, Row& row, bool finished, const std::string& reason) {
  const Job& job = *run.job;
  std::string why = reason;
  size_t limit = row.text.size();
  size_t hold = 0;
  size_t stop_at = std::string::npos;
  for (const std::string& s : job.stop) {
    hold = std::max(hold, s.size() - 1);
    const size_t p = row.text.find(s, row.emitted);
    if (p != std::string::npos) stop_at = std::min(stop_at, p);
  }
  if (stop_at != std::string::npos) {
    limit = stop_at;
    row.text.resize(stop_at);
    finished = true;
    why = "stop";
  } else if (!finished) {
    limit = utf8_floor(row.text, row.text.size() > hold ? row.text.size() - hold : 0);
  }
  limit = std::max(limit, row.emitted);
  ChoiceEvent e{row.choice, row.text.substr(row.emitted, limit - row.emitted), std::move(row.pending_logprobs),
                finished ? why : ""};
  row.pending_logprobs.clear();
  row.emitted = limit;
  if (!e.text.empty() || !e.logprobs.empty() || finished) run.job->push(std::move(e));
  if (finished && row.slot >= 0) {
    state_->give_back(row.slot);
    row.slot = -1;
    --run.live;
  }
}

// The completion's text is HF's decode(prompt + new) after decode(prompt) (decoding::continuation_text): a row
// continuing the prompt's stream gives back first what that stream held of the prompt (row.held), already the
// prompt's text (and the echo's), so it is dropped as it comes. Where the new tokens change how the held part decodes
// (a byte run they continue), decode(prompt + new) no longer starts with decode(prompt), and continuation_text falls
// back to decode(new): so does the row, with a stream of its own over the tokens it made. Until held is empty the
// row has sent nothing, so either way its text is continuation_text's.
void Scheduler::continue_held(Row& row, std::string& delta, bool done) {
  const size_t n = std::min(row.held.size(), delta.size());
  if (delta.compare(0, n, row.held, 0, n) == 0) {
    delta.erase(0, n);
    row.held.erase(0, n);
    return;
  }
  row.held.clear();
  row.stream = DecodeStream(tokenizer_, true);
  delta.clear();
  const std::vector<int32_t>& seq = row.decode.seq;
  for (size_t i = seq.size() - static_cast<size_t>(row.generated); i < seq.size(); ++i)
    delta += row.stream.step(seq[i]);
  if (done) delta += row.stream.finish();
}

void Scheduler::advance(Running& run, Row& row, const float* logits) {
  const Job& job = *run.job;
  const int V = model_.info().vocab_size;
  const int32_t tok = run.chooser->choose(row.decode, logits, V, row.generated);
  TokenLogprob lp;
  if (job.logprobs)  // before the stream takes tok
    lp = logprob_of(logits, V, tok, *job.logprobs, row.stream, row.held, tokenizer_);
  const bool done = run.chooser->append(row.decode, tok);
  ++row.generated;
  std::string delta = row.stream.step(tok);
  if (done) delta += row.stream.finish();  // the last token's text includes what was held back
  if (!row.held.empty()) continue_held(row, delta, done);
  if (job.logprobs) {
    lp.token = delta;
    lp.text_offset = static_cast<int>(run.echo_chars + utf8_chars(row.text));
    row.pending_logprobs.push_back(std::move(lp));
  }
  row.text += delta;
  emit(run, row, done, decoding::is_eos(tok, job.config.eos_token_id) ? "stop" : "length");
}

void Scheduler::drop_rows(Running& run) {
  for (Row& row : run.rows)
    if (row.slot >= 0) {
      state_->give_back(row.slot);
      row.slot = -1;
    }
  run.live = 0;
}

void Scheduler::step() {
  State& st = *state_;
  const int V = model_.info().vocab_size;
  // Clients that left: their rows go now.
  for (auto& run : st.running)
    if (run->job->cancelled()) drop_rows(*run);
  std::fill(st.feed.begin(), st.feed.end(), 0);
  int fed = 0;
  for (auto& run : st.running)
    for (Row& row : run->rows)
      if (row.slot >= 0) {
        st.token[row.slot] = row.decode.seq.back();
        st.feed[row.slot] = 1;
        ++fed;
      }
  if (fed > 0) {
    const float* logits = nullptr;
    try {
      logits = st.batch.decode(st.token, st.feed);
    } catch (const std::exception& e) {
      for (auto& run : st.running) {
        drop_rows(*run);
        run->job->fail(e.what());
      }
      st.running.clear();
      return;
    }
    for (auto& run : st.running) {
      try {
        int added = 0;
        for (Row& row : run->rows) {
          if (row.slot < 0) continue;
          advance(*run, row, logits + static_cast<int64_t>(row.slot) * V);
          ++added;
        }
        run->job->add_tokens(added);
      } catch (const std::exception& e) {
        drop_rows(*run);
        run->job->fail(e.what());
      }
    }
    std::lock_guard lock(mu_);
    ++stats_.steps;
    stats_.rows_stepped += fed;
  }
  for (auto it = st.running.begin(); it != st.running.end();) {
    if ((*it)->live == 0) {
      retire(**it);
      it = st.running.erase(it);
    } else {
      ++it;
    }
  }
}

void Scheduler::retire(Running& run) {
  int tokens = 0;
  for (const Row& row : run.rows) tokens += row.generated;
  {
    std::lock_guard lock(mu_);
    stats_.generated_tokens += tokens;
  }
  run.job->finish();  // a failed or cancelled job is already over; finishing twice is harmless
}

}  // namespace jitgen::serve
