// The server's core without HTTP: OpenAI request checking (every field named in its error), and the
// continuous-batching scheduler — jobs that arrive at different times and share decode steps get exactly
// generate()'s tokens (greedy, and sampled with n choices under one seed), stop strings are cut, a cancelled
// job frees its rows, and overload is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include <fmt/format.h>

#include "generate/sampling.h"
#include "jitgen/error.h"
#include "jitgen/generate.h"
#include "models/model_impl.h"
#include "serve/completion_request.h"
#include "serve/scheduler.h"

namespace jitgen::serve {
namespace {

using json = nlohmann::json;

struct Fixture {
  Model model = Model::builtin_random_gpt2();
  Tokenizer tokenizer = Tokenizer::builtin_gpt2();
  ServedModel served() const {
    ServedModel m;
    m.id = "jitgen-default";
    m.n_positions = model.info().n_positions;
    m.vocab_size = model.info().vocab_size;
    m.tokenizer = &tokenizer;
    m.generation_defaults = model.impl().generation_defaults;
    m.max_n = 8;
    return m;
  }
};

int status_of(const std::string& body, const ServedModel& m, std::string* param = nullptr) {
  try {
    parse_completion_request(body, m);
  } catch (const ApiError& e) {
    if (param) *param = e.param;
    return e.status;
  }
  return 200;
}

TEST(CompletionRequest, MapsOpenAiFieldsOntoHfOptions) {
  Fixture f;
  const ServedModel m = f.served();
  CompletionRequest r = parse_completion_request(R"({"prompt": "Hello world", "max_tokens": 7, "temperature": 0})", m);
  EXPECT_EQ(r.prompts, std::vector<std::vector<int32_t>>{f.tokenizer.encode("Hello world")});
  EXPECT_EQ(r.max_tokens, 7);
  EXPECT_EQ(decoding_mode(r.config), DecodingMode::kGreedy);
  r = parse_completion_request(R"({"prompt": [[1, 2], "x"], "temperature": 0.5, "seed": 7, "n": 3, "top_p": 0.9})", m);
  EXPECT_EQ(r.prompts.size(), 2u);
  EXPECT_EQ(r.max_tokens, 16);  // OpenAI's default
  EXPECT_EQ(decoding_mode(r.config), DecodingMode::kSample);
  EXPECT_EQ(r.config.top_k, 0);  // no top-k unless asked (HF would default to 50)
  EXPECT_DOUBLE_EQ(r.config.temperature, 0.5);
  EXPECT_EQ(r.config.seed[0], 7u);
  EXPECT_EQ(r.n, 3);
  r = parse_completion_request(R"({"prompt": [5, 6], "num_beams": 4, "n": 2, "stop": ["a"], "ignore_eos": true})", m);
  EXPECT_TRUE(r.beam());
  EXPECT_EQ(r.config.num_return_sequences, 2);
  EXPECT_TRUE(r.config.eos_token_id.empty());
  EXPECT_EQ(r.config.stop_strings, std::vector<std::string>{"a"});
}

TEST(CompletionRequest, EveryProblemNamesItsField) {
  Fixture f;
  const ServedModel m = f.served();
  struct Case {
    std::string body;
    int status;
    std::string param;
  };
  for (const Case& c : std::vector<Case>{
           {"{not json", 400, ""},
           {"[1]", 400, ""},
           {R"({"max_tokens": 3})", 400, "prompt"},
           {R"({"prompt": ""})", 400, "prompt"},
           {R"({"prompt": []})", 400, "prompt"},
           {R"({"prompt": [99999999]})", 400, "prompt"},
           {R"({"prompt": "a", "max_tokenz": 1})", 400, "max_tokenz"},
           {R"({"prompt": "a", "max_tokens": -1})", 400, "max_tokens"},
           {R"({"prompt": "a", "max_tokens": "3"})", 400, "max_tokens"},
           {R"({"prompt": "a", "max_tokens": 1024})", 400, "max_tokens"},  // 1 + 1024 > n_positions
           {R"({"prompt": "a", "temperature": 3})", 400, "temperature"},
           {R"({"prompt": "a", "n": 0})", 400, "n"},
           {R"({"prompt": "a", "n": 9})", 400, "n"},
           {R"({"prompt": "a", "stop": ["a", "b", "c", "d", "e"]})", 400, "stop"},
           {R"({"prompt": "a", "stop": [""]})", 400, "stop"},
           {R"({"prompt": "a", "logprobs": 21})", 400, "logprobs"},
           {R"({"prompt": "a", "presence_penalty": 0.5})", 400, "presence_penalty"},
           {R"({"prompt": "a", "logit_bias": {"1": 2}})", 400, "logit_bias"},
           {R"({"prompt": "a", "stream_options": {"include_usage": true}})", 400, "stream_options"},
           {R"({"prompt": "a", "num_beams": 2, "stream": true})", 400, "stream"},
           {R"({"prompt": "a", "early_stopping": "sometimes"})", 400, "early_stopping"},
           {R"({"prompt": "a", "model": "gpt-4"})", 404, "model"},
           {R"({"prompt": "a", "presence_penalty": 0, "model": "jitgen-default", "user": "u"})", 200, ""},
       }) {
    std::string param;
    EXPECT_EQ(status_of(c.body, m, &param), c.status) << c.body;
    if (c.status != 200) EXPECT_EQ(param, c.param) << c.body;
  }
}

std::shared_ptr<Job> job_for(const std::vector<int32_t>& prompt, const std::string& request, const ServedModel& m,
                             const std::shared_ptr<Signal>& signal) {
  return std::make_shared<Job>(prompt, parse_completion_request(request, m), signal);
}

// Waits for a job; returns each choice's text and finish reason.
std::vector<std::pair<std::string, std::string>> collect(Job& job, Signal& signal) {
  std::vector<std::pair<std::string, std::string>> out(job.n);
  for (;;) {
    const uint64_t seen = signal.version();
    std::vector<ChoiceEvent> events;
    const bool open = job.take(events);
    for (const ChoiceEvent& e : events) {
      out[e.choice].first += e.text;
      if (!e.finish_reason.empty()) out[e.choice].second = e.finish_reason;
    }
    if (!open) break;
    signal.wait(seen, std::chrono::milliseconds(200));
  }
  EXPECT_FALSE(job.error()) << *job.error();
  return out;
}

std::string generate_text(const Fixture& f, const std::vector<int32_t>& prompt, GenerationConfig c, int row = 0) {
  const GenerateOutput out = generate(f.model, {{prompt}, {}}, c);
  std::vector<int32_t> gen(out.sequences[row].begin() + prompt.size(), out.sequences[row].end());
  return f.tokenizer.decode(gen, true);
}

TEST(Scheduler, JobsSharingDecodeStepsGetGenerateTokens) {
  Fixture f;
  const ServedModel m = f.served();
  Scheduler s(f.model, f.tokenizer, {3, 16, 256, 8});
  const std::vector<std::string> texts = {"The quick brown fox", "Hello", "In a shocking finding, scientists",
                                          "1 2 3 4 5 6 7 8 9 10 11 12", "A", "Once upon a time there was"};
  std::vector<std::shared_ptr<Job>> jobs;
  std::vector<std::shared_ptr<Signal>> signals;
  for (size_t i = 0; i < texts.size(); ++i) {  // arrivals spread over the running steps; more jobs than rows
    signals.push_back(std::make_shared<Signal>());
    jobs.push_back(job_for(f.tokenizer.encode(texts[i]),
                           fmt::format(R"({{"prompt": "x", "max_tokens": {}, "temperature": 0, "ignore_eos": true}})",
                                       10 + 3 * static_cast<int>(i)),
                           m, signals.back()));
    s.submit(jobs.back());
    std::this_thread::sleep_for(std::chrono::milliseconds(2 * i));
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto got = collect(*jobs[i], *signals[i]);
    GenerationConfig c;
    c.max_new_tokens = 10 + 3 * static_cast<int>(i);
    c.eos_token_id = {};
    EXPECT_EQ(got[0].first, generate_text(f, jobs[i]->prompt, c)) << texts[i];
    EXPECT_EQ(got[0].second, "length");
  }
  EXPECT_EQ(s.stats().slots_busy, 0);
  EXPECT_GT(s.stats().rows_stepped, s.stats().steps);  // rows really shared steps
}

TEST(Scheduler, SampledChoicesEqualNumReturnSequencesUnderOneSeed) {
  Fixture f;
  const ServedModel m = f.served();
  Scheduler s(f.model, f.tokenizer, {4, 16, 128, 8});
  const std::vector<int32_t> prompt = f.tokenizer.encode("It was a dark and stormy night");
  auto signal = std::make_shared<Signal>();
  auto job = job_for(prompt, R"({"prompt": "x", "max_tokens": 12, "temperature": 0.8, "top_p": 0.9, "top_k": 40,
                                 "seed": 1234, "n": 3, "ignore_eos": true})",
                     m, signal);
  s.submit(job);
  const auto got = collect(*job, *signal);
  GenerationConfig c = job->config;
  c.num_return_sequences = 3;
  for (int j = 0; j < 3; ++j) EXPECT_EQ(got[j].first, generate_text(f, prompt, c, j)) << j;
  EXPECT_NE(got[0].first, got[1].first);
}

TEST(Scheduler, StopStringsAreCutAndFinishTheChoice) {
  Fixture f;
  const ServedModel m = f.served();
  Scheduler s(f.model, f.tokenizer, {2, 16, 128, 8});
  const std::vector<int32_t> prompt = f.tokenizer.encode("Hello, my name is");
  GenerationConfig c;
  c.max_new_tokens = 12;
  c.eos_token_id = {};
  const std::string full = generate_text(f, prompt, c);
  ASSERT_GT(full.size(), 12u);
  const std::string stop = full.substr(7, 3);  // a stop string inside the text, across token boundaries maybe
  auto signal = std::make_shared<Signal>();
  auto job = job_for(prompt, json{{"prompt", "x"}, {"max_tokens", 12}, {"temperature", 0}, {"stop", {stop}},
                                  {"ignore_eos", true}}.dump(),
                     m, signal);
  s.submit(job);
  const auto got = collect(*job, *signal);
  EXPECT_EQ(got[0].first, full.substr(0, full.find(stop)));
  EXPECT_EQ(got[0].second, "stop");
}

TEST(Scheduler, CancelledJobsFreeTheirRowsAndOverloadIsRefused) {
  Fixture f;
  const ServedModel m = f.served();
  Scheduler s(f.model, f.tokenizer, {2, 1, 256, 8});
  auto signal = std::make_shared<Signal>();
  const std::string long_request = R"({"prompt": "x", "max_tokens": 200, "temperature": 0, "ignore_eos": true})";
  auto a = job_for({1, 2, 3}, long_request, m, signal);
  auto b = job_for({4, 5}, long_request, m, signal);
  auto wait_busy = [&](int n) {
    for (int i = 0; i < 400 && s.stats().slots_busy < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  s.submit(a);
  wait_busy(1);
  s.submit(b);
  wait_busy(2);
  auto c = job_for({6}, long_request, m, signal);
  auto d = job_for({7}, long_request, m, signal);
  // Two rows busy: c waits in the queue (limit 1), d is refused.
  s.submit(c);
  try {
    s.submit(d);
    ADD_FAILURE() << "the full queue took another job";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 429);
  }
  auto too_many = job_for({1}, R"({"prompt": "x", "n": 3})", m, signal);
  EXPECT_THROW(s.submit(too_many), ApiError);  // 3 choices > 2 rows
  a->cancel();
  b->cancel();
  c->cancel();
  for (int i = 0; i < 400 && s.stats().slots_busy + s.stats().queue_depth > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(s.stats().slots_busy, 0);
  EXPECT_EQ(s.stats().queue_depth, 0);
  EXPECT_LT(a->completion_tokens(), 200);
}

TEST(Scheduler, LogprobsAreLogSoftmaxOfTheModelLogits) {
  Fixture f;
  const ServedModel m = f.served();
  Scheduler s(f.model, f.tokenizer, {1, 4, 128, 8});
  const std::vector<int32_t> prompt = {464, 2068, 7586};
  auto signal = std::make_shared<Signal>();
  auto job = job_for(prompt, R"({"prompt": "x", "max_tokens": 1, "temperature": 0, "logprobs": 3, "echo": true})", m,
                     signal);
  s.submit(job);
  std::vector<TokenLogprob> lps;
  for (bool open = true; open;) {
    const uint64_t seen = signal->version();
    std::vector<ChoiceEvent> events;
    open = job->take(events);
    for (auto& e : events) lps.insert(lps.end(), e.logprobs.begin(), e.logprobs.end());
    if (open) signal->wait(seen, std::chrono::milliseconds(200));
  }
  ASSERT_EQ(lps.size(), 4u);  // 3 echoed prompt tokens + 1 generated
  EXPECT_FALSE(lps[0].logprob);
  const int V = f.model.info().vocab_size;
  const std::vector<float> logits = f.model.forward_logits({prompt})[0];  // [T * V]
  for (int t = 1; t < 4; ++t) {
    const float* row = logits.data() + static_cast<int64_t>(t - 1) * V;
    double mx = row[0], sum = 0;
    for (int v = 0; v < V; ++v) mx = std::max<double>(mx, row[v]);
    for (int v = 0; v < V; ++v) sum += std::exp(row[v] - mx);
    const int32_t tok = t < 3 ? prompt[t] : decoding::argmax_row(logits.data() + 2 * V, V);
    EXPECT_NEAR(*lps[t].logprob, row[tok] - mx - std::log(sum), 1e-4) << t;
    ASSERT_EQ(lps[t].top.size(), 3u);
    EXPECT_GE(lps[t].top[0].second, lps[t].top[1].second);
  }
}

}  // namespace
}  // namespace jitgen::serve
