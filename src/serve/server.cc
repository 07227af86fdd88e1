#include "serve/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <random>
#include <semaphore>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "generate/continuation.h"
#include "generate/stopping.h"
#include "jitgen/error.h"
#include "models/model_impl.h"
#include "serve/chat_request.h"
#include "serve/completion_request.h"
#include "serve/metrics.h"

namespace jitgen::serve {

extern const char* const kPlaygroundHtml;  // playground.html, embedded at build time

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr size_t kMaxBody = size_t(8) << 20;  // request body limit (bytes); a 413 names it

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

json logprobs_json(const std::vector<TokenLogprob>& lps) {
  json j = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
            {"text_offset", json::array()}};
  for (const TokenLogprob& lp : lps) {
    j["tokens"].push_back(lp.token);
    j["token_logprobs"].push_back(lp.logprob ? json(*lp.logprob) : json(nullptr));
    if (!lp.logprob) {
      j["top_logprobs"].push_back(nullptr);
    } else {
      json top = json::object();
      for (const auto& [tok, v] : lp.top) top[tok] = v;
      j["top_logprobs"].push_back(top);
    }
    j["text_offset"].push_back(lp.text_offset);
  }
  return j;
}

void append_logprobs(json& into, const std::vector<TokenLogprob>& lps) {
  const json more = logprobs_json(lps);
  if (into.is_null()) into = json{{"tokens", json::array()}, {"token_logprobs", json::array()},
                                  {"top_logprobs", json::array()}, {"text_offset", json::array()}};
  for (const char* k : {"tokens", "token_logprobs", "top_logprobs", "text_offset"})
    for (const json& x : more[k]) into[k].push_back(x);
}

// The chat shape of logprobs: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}, ...]}.
json chat_logprobs_json(const std::vector<TokenLogprob>& lps) {
  auto bytes = [](const std::string& t) {
    json b = json::array();
    for (unsigned char c : t) b.push_back(int{c});
    return b;
  };
  json content = json::array();
  for (const TokenLogprob& lp : lps) {
    json top = json::array();
    for (const auto& [tok, v] : lp.top) top.push_back({{"token", tok}, {"logprob", v}, {"bytes", bytes(tok)}});
    content.push_back({{"token", lp.token}, {"logprob", lp.logprob ? *lp.logprob : 0.0f}, {"bytes", bytes(lp.token)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}};
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

// One streamed completion: its jobs (one per prompt) and what was sent.
struct Stream {
  std::vector<std::shared_ptr<Job>> jobs;
  std::vector<uint8_t> over;
  std::shared_ptr<Signal> signal;
  CompletionRequest request;
  bool chat = false;               // chat.completion.chunk shape: a role delta first, then content deltas
  bool roles_sent = false;
  std::string id;
  Clock::time_point start;
  int prompt_tokens = 0;
};

}  // namespace

struct Server::Impl {
  Impl(Model m, Tokenizer t, std::string model_id, ServerOptions o)
      : model(std::move(m)),
        tokenizer(std::move(t)),
        options(std::move(o)),
        engine(model),
        scheduler(model, tokenizer, options.scheduler),
        beam_slots(std::max(1, options.max_beam_requests)),
        chat(load_served_chat(tokenizer, options.model_dir)) {
    served.id = std::move(model_id);
    served.n_positions = model.info().n_positions;
    served.vocab_size = model.info().vocab_size;
    served.generation_defaults = model.impl().generation_defaults;
    served.tokenizer = &tokenizer;
    served.max_n = scheduler.options().slots;
    routes();
  }

  Model model;
  Tokenizer tokenizer;
  ServerOptions options;
  Engine engine;
  Scheduler scheduler;
  std::counting_semaphore<1024> beam_slots;
  ServedModel served;
  ServedChat chat;
  Metrics metrics;
  httplib::Server http;
  const int64_t created = std::time(nullptr);
  std::atomic<uint64_t> next_id{std::random_device{}()};
  int listen_fd = -1;

  void routes();
  // Runs a handler, turning errors into OpenAI error bodies, and counts the answer.
  void guarded(const std::string& route, httplib::Response& res, const std::function<void()>& fn);
  // Both routes: a chat request is rendered by the chat template, then runs as a completion request.
  void completions(const std::string& body, httplib::Response& res, bool is_chat);
  void beam_search(const CompletionRequest& r, const std::string& id, httplib::Response& res, bool is_chat);
  bool stream_some(Stream& s, httplib::DataSink& sink);
  json chunk(const Stream& s, const json& choices) const;
  json completion_body(const std::string& id, const json& choices, int prompt_tokens, int completion_tokens,
                       bool is_chat = false) const {
    return {{"id", id}, {"object", is_chat ? "chat.completion" : "text_completion"}, {"created", std::time(nullptr)},
            {"model", served.id},
            {"choices", choices},
            {"usage", {{"prompt_tokens", prompt_tokens}, {"completion_tokens", completion_tokens},
                       {"total_tokens", prompt_tokens + completion_tokens}}}};
  }
  SchedulerStats stats() const {
    SchedulerStats st = scheduler.stats();
    const EngineCacheStats c = engine.cache_stats();  // the model's compile cache: scheduler and beam plans
    st.cache_hits = c.hits;
    st.cache_misses = c.misses;
    return st;
  }
};

void Server::Impl::guarded(const std::string& route, httplib::Response& res, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ApiError& e) {
    send_json(res, e.status, e.body());
  } catch (const Error& e) {
    const bool client = e.code() == ErrorCode::kInvalidArgument || e.code() == ErrorCode::kLimit;
    send_json(res, client ? 400 : 500,
              ApiError(client ? 400 : 500, e.what(), "", client ? "invalid_request_error" : "server_error").body());
  } catch (const std::exception& e) {
    send_json(res, 500, ApiError(500, e.what(), "", "server_error").body());
  }
  metrics.count_request(route, res.status);
}

void Server::Impl::routes() {
  // httplib listens with a backlog of 5 (compiled into Debian's library): 64 clients connecting at once overflow
  // it and get resets. Keep the listening socket to raise the backlog after binding (bind()).
  http.set_socket_options([this](socket_t fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd = fd;
  });
  http.new_task_queue = [this] {  // streaming requests hold a thread each: room for a full queue of them
    return new httplib::ThreadPool(
        static_cast<size_t>(std::min(1024, options.scheduler.slots + options.scheduler.max_queue + 16)));
  };
  http.set_payload_max_length(kMaxBody);
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    guarded("/health", res, [&] { send_json(res, 200, {{"status", "ok"}}); });
  });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    guarded("/v1/models", res, [&] {
      send_json(res, 200,
                {{"object", "list"},
                 {"data", json::array({{{"id", served.id}, {"object", "model"}, {"created", created},
                                        {"owned_by", "jitgen"}}})}});
    });
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    guarded("/metrics", res, [&] { res.set_content(metrics.render(stats()), "text/plain; version=0.0.4"); });
  });
  http.Get("/", [this](const httplib::Request&, httplib::Response& res) {
    guarded("/", res, [&] { res.set_content(kPlaygroundHtml, "text/html; charset=utf-8"); });
  });
  // The body is read as JSON whatever Content-Type says (`curl -d` sends x-www-form-urlencoded, which httplib
  // would otherwise parse as a form and cap at 8 KiB): a content-reader handler takes the raw bytes, up to the
  // payload limit.
  for (const char* route : {"/v1/completions", "/v1/chat/completions"}) {
    const bool is_chat = std::string(route) == "/v1/chat/completions";
    http.Post(route, [this, route, is_chat](const httplib::Request&, httplib::Response& res,
                                            const httplib::ContentReader& read) {
      std::string body;
      const bool complete = read([&](const char* data, size_t n) {
        body.append(data, n);
        return true;
      });
      guarded(route, res, [&] {
        if (!complete && res.status == 413)
          throw ApiError(413, fmt::format("request body exceeds the server's limit of {} bytes (8 MiB)", kMaxBody));
        if (!complete) throw ApiError(400, "the request body could not be read (connection closed or bad encoding)");
        completions(body, res, is_chat);
      });
    });
  }
  // Unknown routes (and methods) get an OpenAI-style error body, not httplib's empty page.
  http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string msg =
        res.status == 404   ? fmt::format("no route {} {}", req.method, req.path)
        : res.status == 413 ? fmt::format("request body exceeds the server's limit of {} bytes (8 MiB)", kMaxBody)
                            : fmt::format("request failed with HTTP status {}", res.status);
    send_json(res, res.status, ApiError(res.status, msg, "", "invalid_request_error").body());
    metrics.count_request("other", res.status);
  });
}

json Server::Impl::chunk(const Stream& s, const json& choices) const {
  json c = {{"id", s.id}, {"object", s.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", std::time(nullptr)}, {"model", served.id}, {"choices", choices}};
  if (s.request.include_usage) c["usage"] = nullptr;
  return c;
}

void Server::Impl::completions(const std::string& body, httplib::Response& res, bool is_chat) {
  const Clock::time_point start = Clock::now();
  CompletionRequest r = is_chat ? parse_chat_request(body, served, chat).completion : parse_completion_request(body, served);
  r.continue_prompt_text = !is_chat;
  const std::string id =
      fmt::format("{}-{:016x}", is_chat ? "chatcmpl" : "cmpl", next_id.fetch_add(0x9E3779B97F4A7C15ull));
  if (r.beam()) return beam_search(r, id, res, is_chat);

  auto signal = std::make_shared<Signal>();
  std::vector<std::shared_ptr<Job>> jobs;
  int prompt_tokens = 0;
  try {
    for (const auto& p : r.prompts) {
      prompt_tokens += static_cast<int>(p.size());
      jobs.push_back(std::make_shared<Job>(p, r, signal));
      scheduler.submit(jobs.back());
    }
  } catch (...) {
    for (auto& j : jobs) j->cancel();
    throw;
  }

  if (r.stream) {
    auto s = std::make_shared<Stream>();
    s->jobs = jobs;
    s->over.assign(jobs.size(), 0);
    s->signal = signal;
    s->request = std::move(r);
    s->chat = is_chat;
    s->id = id;
    s->start = start;
    s->prompt_tokens = prompt_tokens;
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [this, s](size_t, httplib::DataSink& sink) { return stream_some(*s, sink); },
        [s](bool) {
          for (auto& j : s->jobs) j->cancel();  // the client left (or all is sent: then nothing is running)
        });
    return;
  }

  const int n = r.n;
  std::vector<std::string> text(jobs.size() * n);
  std::vector<json> logprobs(jobs.size() * n);
  std::vector<std::vector<TokenLogprob>> chat_logprobs(jobs.size() * n);
  std::vector<std::string> finish(jobs.size() * n);
  for (;;) {
    const uint64_t seen = signal->version();
    bool open = false;
    for (size_t i = 0; i < jobs.size(); ++i) {
      std::vector<ChoiceEvent> events;
      open = jobs[i]->take(events) || open;
      for (ChoiceEvent& e : events) {
        const size_t k = i * n + e.choice;
        text[k] += e.text;
        if (r.logprobs && is_chat) chat_logprobs[k].insert(chat_logprobs[k].end(), e.logprobs.begin(), e.logprobs.end());
        else if (r.logprobs) append_logprobs(logprobs[k], e.logprobs);
        if (!e.finish_reason.empty()) finish[k] = e.finish_reason;
      }
    }
    if (!open) break;
    signal->wait(seen, std::chrono::milliseconds(500));
  }
  int completion_tokens = 0;
  for (auto& j : jobs) {
    if (auto err = j->error()) throw ApiError(500, *err, "", "server_error");
    completion_tokens += j->completion_tokens();
    if (auto t = j->first_token_time())
      metrics.time_to_first_token.observe(std::chrono::duration<double>(*t - start).count());
  }
  json choices = json::array();
  for (size_t k = 0; k < text.size(); ++k) {
    if (is_chat) {
      json lp = nullptr;
      if (r.logprobs) lp = chat_logprobs_json(chat_logprobs[k]);
      choices.push_back({{"index", k}, {"message", {{"role", "assistant"}, {"content", text[k]}}}, {"logprobs", lp},
                         {"finish_reason", finish[k]}});
    } else {
      choices.push_back({{"index", k}, {"text", text[k]}, {"logprobs", r.logprobs ? logprobs[k] : json(nullptr)},
                         {"finish_reason", finish[k]}});
    }
  }
  metrics.request_latency.observe(seconds_since(start));
  send_json(res, 200, completion_body(id, choices, prompt_tokens, completion_tokens, is_chat));
}

bool Server::Impl::stream_some(Stream& s, httplib::DataSink& sink) {
  const uint64_t seen = s.signal->version();
  const int n = s.request.n;
  bool open = false;
  json choices = json::array();
  if (s.chat && !s.roles_sent) {  // OpenAI's chat stream opens each choice with a role delta
    for (size_t k = 0; k < s.jobs.size() * n; ++k)
      choices.push_back({{"index", k}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr},
                         {"finish_reason", nullptr}});
    s.roles_sent = true;
  }
  for (size_t i = 0; i < s.jobs.size(); ++i) {
    if (s.over[i]) continue;
    std::vector<ChoiceEvent> events;
    if (!s.jobs[i]->take(events)) s.over[i] = 1;
    open = open || !s.over[i];
    for (ChoiceEvent& e : events) {
      const size_t index = i * n + e.choice;
      if (!s.chat) {
        choices.push_back({{"index", index},
                           {"text", e.text},
                           {"logprobs", s.request.logprobs ? logprobs_json(e.logprobs) : json(nullptr)},
                           {"finish_reason", e.finish_reason.empty() ? json(nullptr) : json(e.finish_reason)}});
        continue;
      }
      if (!e.text.empty() || !e.logprobs.empty())
        choices.push_back({{"index", index}, {"delta", {{"content", e.text}}},
                           {"logprobs", s.request.logprobs ? chat_logprobs_json(e.logprobs) : json(nullptr)},
                           {"finish_reason", nullptr}});
      if (!e.finish_reason.empty())  // the last chunk of a choice: an empty delta with the reason
        choices.push_back({{"index", index}, {"delta", json::object()}, {"logprobs", nullptr},
                           {"finish_reason", e.finish_reason}});
    }
  }
  auto write = [&](const std::string& data) { return sink.write(data.data(), data.size()); };
  auto event = [&](const json& j) {
    return write("data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n");
  };
  for (const json& c : choices)  // one choice per chunk, as OpenAI streams them
    if (!event(chunk(s, json::array({c})))) return false;
  if (!open) {
    int completion_tokens = 0;
    for (auto& j : s.jobs) {
      if (auto err = j->error()) {
        event(ApiError(500, *err, "", "server_error").body());
        metrics.count_request(s.chat ? "/v1/chat/completions (stream error)" : "/v1/completions (stream error)", 500);
      }
      completion_tokens += j->completion_tokens();
      if (auto t = j->first_token_time())
        metrics.time_to_first_token.observe(std::chrono::duration<double>(*t - s.start).count());
    }
    if (s.request.include_usage) {
      json last = chunk(s, json::array());
      last["usage"] = {{"prompt_tokens", s.prompt_tokens}, {"completion_tokens", completion_tokens},
                       {"total_tokens", s.prompt_tokens + completion_tokens}};
      event(last);
    }
    write("data: [DONE]\n\n");
    metrics.request_latency.observe(seconds_since(s.start));
    sink.done();
    return true;
  }
  if (!sink.is_writable()) return false;  // the client left: the releaser cancels the jobs
  if (choices.empty()) s.signal->wait(seen, std::chrono::milliseconds(200));
  return true;
}

void Server::Impl::beam_search(const CompletionRequest& r, const std::string& id, httplib::Response& res,
                               bool is_chat) {
  const Clock::time_point start = Clock::now();
  if (!beam_slots.try_acquire_for(std::chrono::seconds(30)))
    throw ApiError(503, "too many beam-search requests are running; retry later", "", "server_error");
  struct Release {
    std::counting_semaphore<1024>& s;
    ~Release() { s.release(); }
  } release{beam_slots};
  json choices = json::array();
  int prompt_tokens = 0, completion_tokens = 0;
  for (const auto& prompt : r.prompts) {
    prompt_tokens += static_cast<int>(prompt.size());
    const GenerateOutput out = engine.generate({{prompt}, {}}, r.config, nullptr, &tokenizer);
    for (const auto& seq : out.sequences) {
      std::vector<int32_t> gen(seq.begin() + out.prompt_length, seq.end());
      std::string reason = "length";
      const auto eos = std::find_if(gen.begin(), gen.end(),
                                    [&](int32_t t) { return decoding::is_eos(t, r.config.eos_token_id); });
      if (eos != gen.end()) {
        gen.erase(eos + 1, gen.end());  // what follows the eos is padding
        reason = "stop";
      }
      completion_tokens += static_cast<int>(gen.size());
      std::string text = r.continue_prompt_text ? decoding::continuation_text(tokenizer, prompt, gen, true)
                                                : tokenizer.decode(gen, true);
      for (const std::string& s : r.stop) {
        const size_t p = text.find(s);
        if (p != std::string::npos) {
          text.resize(p);
          reason = "stop";
        }
      }
      if (r.echo) text = tokenizer.decode(prompt, true) + text;
      if (is_chat)
        choices.push_back({{"index", choices.size()}, {"message", {{"role", "assistant"}, {"content", text}}},
                           {"logprobs", nullptr}, {"finish_reason", reason}});
      else
        choices.push_back({{"index", choices.size()}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", reason}});
    }
  }
  metrics.request_latency.observe(seconds_since(start));
  send_json(res, 200, completion_body(id, choices, prompt_tokens, completion_tokens, is_chat));
}

Server::Server(Model model, Tokenizer tokenizer, std::string model_id, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(tokenizer), std::move(model_id), std::move(options))) {}

Server::~Server() {
  stop();
  impl_->scheduler.stop();
}

int Server::bind() {
  const ServerOptions& o = impl_->options;
  int port = o.port;
  if (port == 0) {
    port = impl_->http.bind_to_any_port(o.host);
    if (port < 0) throw_invalid_argument(fmt::format("--host {}: cannot listen on any port", o.host));
  } else if (!impl_->http.bind_to_port(o.host, o.port)) {
    throw_invalid_argument(fmt::format("--host {} --port {}: cannot listen there (in use, or not an address here)",
                                       o.host, o.port));
  }
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);  // Linux: a second listen() resizes the backlog
  return port;
}

void Server::serve() { impl_->http.listen_after_bind(); }

void Server::stop() {
  if (impl_->http.is_running()) impl_->http.stop();
}

}  // namespace jitgen::serve
