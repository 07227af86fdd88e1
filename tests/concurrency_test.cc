// One jitgen::Model used from several threads at once gives exactly the sequential results: generate() in eager and
// compiled mode (greedy, sampling, beam search; batched, left-padded), forward_logits, and the tokenizer. Run under
// ThreadSanitizer by scripts/tsan.sh; in the normal build it still checks bit-identical results under contention.
// Kept small (tiny built-in model, a few tokens): under TSan every step is ~10x slower.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "jitgen/engine.h"
#include "jitgen/generate.h"
#include "jitgen/model.h"
#include "jitgen/tokenizer.h"

namespace jitgen {
namespace {

struct Case {
  const char* name;
  GenerateInput input;
  GenerationConfig config;
};

std::vector<Case> cases() {
  GenerateInput batch;  // two prompts, the shorter left-padded
  batch.input_ids = {{50256, 50256, 464, 3290}, {15496, 11, 616, 1438}};
  batch.attention_mask = {{0, 0, 1, 1}, {1, 1, 1, 1}};
  GenerateInput single;
  single.input_ids = {{464, 2068, 7586, 21831, 18045}};

  GenerationConfig greedy;
  greedy.max_new_tokens = 4;
  greedy.pad_token_id = 50256;
  GenerationConfig sample = greedy;
  sample.do_sample = true;
  sample.top_k = 20;
  sample.temperature = 0.8;
  sample.num_return_sequences = 2;
  sample.seed[0] = 7;
  sample.seed[1] = 11;
  GenerationConfig beam = greedy;
  beam.num_beams = 3;
  beam.num_return_sequences = 2;
  return {{"greedy_batch", batch, greedy}, {"sample_batch", batch, sample}, {"beam_single", single, beam}};
}

struct Result {
  std::vector<std::vector<int32_t>> sequences;
  std::vector<float> sequences_scores;
  bool operator==(const Result& o) const { return sequences == o.sequences && sequences_scores == o.sequences_scores; }
};

Result run(const Model& m, const Case& c, ExecutionMode mode) {
  const GenerateOutput out = generate(m, c.input, c.config, nullptr, mode);
  return {out.sequences, out.sequences_scores};
}

constexpr ExecutionMode kModes[] = {ExecutionMode::kEager, ExecutionMode::kCompiled};
constexpr int kThreads = 3;

TEST(Concurrency, GenerateFromManyThreadsMatchesSequential) {
  const Model model = Model::builtin_random_gpt2();
  const std::vector<Case> cs = cases();
  // The sequential reference, on a separate Model (so the shared one starts with an empty compile cache and the
  // threads race to fill it).
  const Model reference_model = Model::builtin_random_gpt2();
  std::vector<std::vector<Result>> expected(cs.size());
  for (size_t i = 0; i < cs.size(); ++i)
    for (ExecutionMode mode : kModes) expected[i].push_back(run(reference_model, cs[i], mode));

  // Every thread runs every (case, mode) pair, each thread starting at a different one, so different requests and
  // both modes overlap.
  const int jobs = static_cast<int>(cs.size() * std::size(kModes));
  std::vector<std::vector<Result>> got(kThreads, std::vector<Result>(jobs));
  std::vector<std::string> errors(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      try {
        for (int k = 0; k < jobs; ++k) {
          const int j = (k + t * 3) % jobs;
          got[t][j] = run(model, cs[j / 2], kModes[j % 2]);
        }
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[t], "") << "thread " << t;
    for (int j = 0; j < jobs; ++j) {
      EXPECT_TRUE(got[t][j] == expected[j / 2][j % 2])
          << "thread " << t << " case " << cs[j / 2].name << (j % 2 ? " compiled" : " eager");
    }
  }
}

// The wording: one Engine called from several threads at once. The compiled engine also writes its plan
// cache folder from those threads (several may compile the same bucket at once: the files must stay whole).
TEST(Concurrency, EngineFromManyThreadsMatchesSequential) {
  const std::vector<Case> cs = cases();
  const std::string plan_dir =
      (std::filesystem::temp_directory_path() / ("jitgen-conc-plans-" + std::to_string(::getpid()))).string();
  for (ExecutionMode mode : kModes) {
    EngineOptions opt;
    opt.mode = mode;
    if (mode == ExecutionMode::kCompiled) opt.plan_cache_dir = plan_dir;
    std::vector<Result> expected;
    {
      const Engine reference(Model::builtin_random_gpt2(), EngineOptions{mode});
      for (const Case& c : cs) {
        const GenerateOutput o = reference.generate(c.input, c.config);
        expected.push_back({o.sequences, o.sequences_scores});
      }
    }
    for (int round = 0; round < 2; ++round) {  // round 1 of the compiled engine reads the plans round 0 wrote
      const Engine engine(Model::builtin_random_gpt2(), opt);
      std::vector<std::vector<Result>> got(kThreads, std::vector<Result>(cs.size()));
      std::vector<std::string> errors(kThreads);
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          try {
            for (size_t k = 0; k < cs.size(); ++k) {
              const size_t j = (k + t) % cs.size();
              const GenerateOutput o = engine.generate(cs[j].input, cs[j].config);
              got[t][j] = {o.sequences, o.sequences_scores};
            }
          } catch (const std::exception& e) {
            errors[t] = e.what();
          }
        });
      }
      for (auto& th : threads) th.join();
      for (int t = 0; t < kThreads; ++t) {
        ASSERT_EQ(errors[t], "") << "thread " << t;
        for (size_t j = 0; j < cs.size(); ++j)
          EXPECT_TRUE(got[t][j] == expected[j]) << "round " << round << " thread " << t << " case " << cs[j].name
                                                << (mode == ExecutionMode::kCompiled ? " compiled" : " eager");
      }
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(plan_dir, ec);
}

TEST(Concurrency, ForwardLogitsFromManyThreadsMatchesSequential) {
  const Model model = Model::builtin_random_gpt2();
  const std::vector<std::vector<int32_t>> ids = {{50256, 464, 3290}, {15496, 11, 616}};
  const std::vector<std::vector<int32_t>> mask = {{0, 1, 1}, {1, 1, 1}};
  std::vector<std::vector<std::vector<float>>> expected;
  for (ExecutionMode mode : kModes) expected.push_back(Model::builtin_random_gpt2().forward_logits(ids, mask, mode));
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 4; ++k) {
        const int m = (k + t) % 2;
        if (model.forward_logits(ids, mask, kModes[m]) != expected[m]) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST(Concurrency, TokenizerFromManyThreadsMatchesSequential) {
  const Tokenizer tok = Tokenizer::builtin_gpt2();
  const std::vector<std::string> texts = {"Hello, my name is", " the quick brown fox<|endoftext|>jumps",
                                          "caf\xc3\xa9 \xf0\x9f\xa4\x97 12345 isn't", "\xff\xfe broken"};
  std::vector<std::vector<int32_t>> expected;
  for (const auto& s : texts) expected.push_back(tok.encode(s));
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 50; ++k) {
        const size_t i = (k + t) % texts.size();
        const auto ids = tok.encode(texts[i]);
        if (ids != expected[i] || tok.decode(ids) != tok.decode(expected[i])) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace jitgen
