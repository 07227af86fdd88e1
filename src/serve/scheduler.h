#pragma once
// Scheduler: continuous batching. One thread owns a SlotBatch (a fixed set of slots on one compiled decode
// plan) and loops: admit queued jobs into free slots at a step boundary (prefill; n choices fork the
// prompt's slot), run one decode step for every live row, choose each row's token with its job's own
// options (TokenChooser: the same code generate() runs, so a row gets generate()'s tokens), stream text
// deltas, and free a row's slot the moment it finishes or its client leaves. Jobs never wait for each
// other to finish, and nothing recompiles when they come and go.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "jitgen/model.h"
#include "jitgen/tokenizer.h"
#include "serve/job.h"

namespace jitgen::serve {

struct SchedulerOptions {
  int slots = 8;          // rows of the decode batch (--max-batch)
  int max_queue = 256;    // jobs waiting for a slot; more are refused (HTTP 429)
  int capacity = 0;       // KV slots per row; 0 = the model's n_positions
  int prompt_bucket = 8;  // prefill lengths round up to a multiple of this
};

struct SchedulerStats {
  int64_t queue_depth = 0, slots_busy = 0, slots_total = 0;
  int64_t prompt_tokens = 0, generated_tokens = 0, steps = 0;
  int64_t rows_stepped = 0;  // sum over decode steps of the rows fed (occupancy = rows_stepped / steps / slots)
  int64_t cache_hits = 0, cache_misses = 0;
};

class Scheduler {
 public:
  Scheduler(Model model, const Tokenizer& tokenizer, SchedulerOptions options);
  ~Scheduler();  // stops the loop; jobs still queued or running fail with "server shutting down"

  // Queues a job. Throws ApiError 429 when the queue is full, 400 when it needs more slots than exist,
  // 503 once stopping.
  void submit(const std::shared_ptr<Job>& job);
  void stop();
  SchedulerStats stats() const;
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Row;
  struct Running;
  void loop();
  void admit(const std::shared_ptr<Job>& job);
  void step();
  // The row's next token from its logits [V]: chosen, recorded (logprobs), appended and streamed.
  void advance(Running& run, Row& row, const float* logits);
  void emit(Running& run, Row& row, bool finished, const std::string& reason);
  // Drops from a row's first text what its stream held of the prompt (Row::held), or restarts its text as
  // decode(new tokens) where they decode the held part otherwise.
  void continue_held(Row& row, std::string& delta, bool done);
  void drop_rows(Running& run);  // frees every row still holding a slot
  void retire(Running& run);

  Model model_;
  const Tokenizer& tokenizer_;
  SchedulerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  SchedulerStats stats_;  // under mu_

  // Scheduler thread only.
  struct State;
  std::unique_ptr<State> state_;
  std::thread thread_;
};

}  // namespace jitgen::serve
