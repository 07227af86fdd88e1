#pragma once
// The OpenAI-compatible HTTP server (cpp-httplib): POST /v1/completions and /v1/chat/completions (JSON or SSE
// stream; chat requests are rendered by the model's chat template, then run as completions), GET /v1/models,
// /health, /metrics (Prometheus) and the playground page at /. Greedy and sampling requests run on the
// continuous-batching Scheduler; beam-search requests run whole on the Engine (as HF, they have no stream).
#include <memory>
#include <string>

#include "jitgen/engine.h"
#include "jitgen/tokenizer.h"
#include "serve/scheduler.h"

namespace jitgen::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;              // 0 = any free port
  SchedulerOptions scheduler;
  int max_beam_requests = 2;    // beam-search requests run at once (each holds a thread and its own cache)
  std::string model_dir;        // where the chat template comes from ("" = none: chat requests get a 400)
};

class Server {
 public:
  Server(Model model, Tokenizer tokenizer, std::string model_id, ServerOptions options);
  ~Server();
  // Binds the socket; returns the port (the real one for port 0). Throws kInvalidArgument when it cannot.
  int bind();
  // Serves until stop(); call after bind().
  void serve();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jitgen::serve
