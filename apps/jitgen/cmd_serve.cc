// jitgen serve: the OpenAI-compatible HTTP server (POST /v1/completions, GET /v1/models, /health, /metrics, and
// the playground page at /). SIGINT / SIGTERM stop it cleanly.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "commands.h"
#include "jitgen/error.h"
#include "models/model_impl.h"
#include "ops/cpu_kernels.h"
#include "serve/server.h"

namespace jitgen::cli {
namespace {

struct ServeFlags {
  ModelFlag model;
  serve::ServerOptions server;
};

int g_stop_pipe[2] = {-1, -1};
extern "C" void on_stop_signal(int sig) {
  const char c = static_cast<char>(sig);
  const ssize_t ignored = write(g_stop_pipe[1], &c, 1);  // async-signal-safe
  (void)ignored;
}

std::string model_id(const std::string& dir) {
  if (dir.empty()) return "jitgen-default";
  if (dir.rfind("builtin:", 0) == 0) return dir.substr(8);  // builtin:random-gpt2 -> random-gpt2
  const std::filesystem::path p = std::filesystem::path(dir).lexically_normal();
  const std::string name = (p.has_filename() ? p.filename() : p.parent_path().filename()).string();
  return name.empty() ? "jitgen-model" : name;
}

// A --max-batch past the rows fp32 panels take on this SIMD target (only below avx2: 64) sends decode batches to
// BLAS, and a request's tokens may then change with the rows beside it (docs/server.md): say so at startup.
void warn_if_not_batch_invariant(const Model& model, int slots) {
  const cpu::PreparedWeights* prepared = model.impl().model->prepared();
  const bool fp32 = !prepared || (!prepared->format().quant && prepared->format().checkpoint.empty() &&
                                  prepared->format().storage == cpu::WeightStorage::kF32);
  if (fp32 && slots > cpu::fp32_panel_rows())
    std::cerr << fmt::format(
        "jitgen serve: warning: --max-batch {} is past the {} rows fp32 linears take as panels on {}; larger decode "
        "batches run on BLAS, where a request's tokens can depend on the rows beside it (docs/server.md)\n",
        slots, cpu::fp32_panel_rows(), cpu::simd_name());
}

}  // namespace

Subcommand register_serve(CLI::App& parent) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* cmd = parent.add_subcommand("serve", "OpenAI-compatible completion server with continuous batching");
  f->model.add_to(cmd);
  cmd->add_option("--host", f->server.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", f->server.port, "Port (0 = any free port; the ready line shows it)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--max-batch", f->server.scheduler.slots, "Rows of the continuous decode batch")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--max-queue", f->server.scheduler.max_queue, "Requests that may wait for a row (more get 429)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--ctx", f->server.scheduler.capacity,
                  "Tokens per row (prompt + completion; default: the model's n_positions)")
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--prompt-bucket", f->server.scheduler.prompt_bucket,
                  "Prefill lengths round up to a multiple of this (HF pad_to_multiple_of)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  return {cmd, [f] {
            // SIGINT / SIGTERM write a byte to a pipe; a waiter thread reads it and stops the server. (Blocking
            // the signals is not enough: OpenBLAS starts a thread before main that would take them and die.)
            if (pipe(g_stop_pipe) != 0) throw_invalid_argument("serve: cannot create the signal pipe");
            struct sigaction sa {};
            sa.sa_handler = on_stop_signal;
            sigemptyset(&sa.sa_mask);
            sigaction(SIGINT, &sa, nullptr);
            sigaction(SIGTERM, &sa, nullptr);

            Model model = f->model.load_model();
            if (f->server.scheduler.capacity > model.info().n_positions)
              throw_invalid_argument(fmt::format("--ctx {} exceeds the model's position table (n_positions = {})",
                                                 f->server.scheduler.capacity, model.info().n_positions));
            warn_if_not_batch_invariant(model, f->server.scheduler.slots);
            f->server.model_dir = f->model.folder();
            serve::Server server(std::move(model), f->model.load_tokenizer(), model_id(f->model.dir), f->server);
            const int port = server.bind();
            std::thread waiter([&] {
              char sig = 0;
              while (read(g_stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
              }
              if (sig != 0) std::cerr << "jitgen serve: stopping (signal " << int{sig} << ")\n";
              server.stop();
            });
            std::cerr << fmt::format("jitgen serve: listening on http://{}:{}\n", f->server.host, port) << std::flush;
            server.serve();
            const char none = 0;  // the server stopped by itself: release the waiter
            if (write(g_stop_pipe[1], &none, 1) < 0) {
            }
            waiter.join();
            return 0;
          }};
}

}  // namespace jitgen::cli
