// Engine: the compile cache across calls (numeric options never recompile), the persistent plan cache
// (reused by a new engine, stale or corrupt entries ignored and rebuilt), and the graph dump.
#include <gtest/gtest.h>

#include <filesystem>

#include <fmt/format.h>

#include "graph/plan_store.h"
#include "jitgen/engine.h"
#include "jitgen/error.h"
#include "test_support.h"

namespace jitgen {
namespace {

GenerationConfig greedy(int n) {
  GenerationConfig c;
  c.max_new_tokens = n;
  c.eos_token_id = {};
  c.pad_token_id = 0;
  return c;
}

const GenerateInput kPrompt{{{464, 2068, 7586, 21831, 18045}}, {}};

TEST(Engine, NumericOptionsAreRuntimeInputsAndNeverRecompile) {
  const Engine e(Model::builtin_random_gpt2());
  GenerationConfig s = greedy(8);
  s.do_sample = true;
  s.temperature = 0.7;
  s.top_p = 0.9;
  s.seed[0] = 1;
  const GenerateOutput first = e.generate(kPrompt, s);
  EXPECT_GT(first.cache_misses, 0);
  for (double t : {0.3, 1.0, 1.7}) {
    s.temperature = t;
    s.top_p = t / 2;
    s.top_k = static_cast<int>(t * 10);
    s.repetition_penalty = 1 + t;
    s.seed[0] = static_cast<uint32_t>(t * 10);
    const GenerateOutput again = e.generate(kPrompt, s);
    EXPECT_EQ(again.cache_misses, 0) << "temperature " << t;
    EXPECT_GT(again.cache_hits, 0);
  }
  // A graph-changing option does compile: beam search runs num_beams rows.
  GenerationConfig beams = greedy(8);
  beams.num_beams = 3;
  EXPECT_GT(e.generate(kPrompt, beams).cache_misses, 0);
}

TEST(Engine, EagerAndCompiledEnginesAgree) {
  const Model m = Model::builtin_random_gpt2();
  EngineOptions eager;
  eager.mode = ExecutionMode::kEager;
  const GenerateOutput a = Engine(m, eager).generate(kPrompt, greedy(16));
  const GenerateOutput b = Engine(m).generate(kPrompt, greedy(16));
  EXPECT_EQ(a.sequences, b.sequences);
  EXPECT_EQ(a.cache_misses + a.cache_hits, 0);  // eager compiles nothing
}

TEST(EnginePlanCache, ANewEngineLoadsThePlansFromDiskAndGivesTheSameTokens) {
  test::TempDir dir;
  EngineOptions o;
  o.plan_cache_dir = dir.path();
  const GenerateOutput cold = Engine(Model::builtin_random_gpt2(), o).generate(kPrompt, greedy(12));
  int files = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir.path())) files += f.path().extension() == ".json";
  EXPECT_EQ(files, 2);  // prefill and decode plans

  const Engine warm(Model::builtin_random_gpt2(), o);  // a fresh model: nothing compiled in memory
  const GenerateOutput out = warm.generate(kPrompt, greedy(12));
  EXPECT_EQ(out.sequences, cold.sequences);
  EXPECT_EQ(warm.cache_stats().loaded_from_disk, 2);
}

TEST(EnginePlanCache, CorruptOrStaleEntriesAreIgnoredAndRebuilt) {
  test::TempDir dir;
  EngineOptions o;
  o.plan_cache_dir = dir.path();
  const GenerateOutput ref = Engine(Model::builtin_random_gpt2(), o).generate(kPrompt, greedy(6));
  std::vector<std::string> paths;
  for (const auto& f : std::filesystem::directory_iterator(dir.path())) paths.push_back(f.path().string());
  ASSERT_EQ(paths.size(), 2u);
  std::string text = test::read_file(paths[0]);
  test::write_file(paths[0], text.substr(0, text.size() / 2));  // truncated JSON
  std::string other = test::read_file(paths[1]);
  const std::string current = fmt::format("\"version\":{}", PlanStore::kVersion);
  const auto at = other.find(current);
  ASSERT_NE(at, std::string::npos);
  other.replace(at, current.size(), "\"version\":9");  // a plan from another jitgen
  test::write_file(paths[1], other);

  testing::internal::CaptureStderr();
  const Engine e(Model::builtin_random_gpt2(), o);
  const GenerateOutput out = e.generate(kPrompt, greedy(6));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(out.sequences, ref.sequences);
  EXPECT_EQ(e.cache_stats().loaded_from_disk, 0);
  EXPECT_NE(err.find("ignoring plan cache file"), std::string::npos) << err;
  EXPECT_NE(err.find("format version 9"), std::string::npos) << err;
  // Rebuilt and rewritten: a third engine loads both.
  const Engine third(Model::builtin_random_gpt2(), o);
  third.generate(kPrompt, greedy(6));
  EXPECT_EQ(third.cache_stats().loaded_from_disk, 2);
}

TEST(EnginePlanCache, APlanWhoseShapesLieIsRejectedNotRun) {
  test::TempDir dir;
  EngineOptions o;
  o.plan_cache_dir = dir.path();
  Engine(Model::builtin_random_gpt2(), o).generate(kPrompt, greedy(4));
  for (const auto& f : std::filesystem::directory_iterator(dir.path())) {
    std::string text = test::read_file(f.path().string());
    const auto at = text.find("\"shape\":[1,1,50257]");
    if (at == std::string::npos) continue;
    text.replace(at, 19, "\"shape\":[1,9,50257]");  // the logits buffer would overflow the arena
    test::write_file(f.path().string(), text);
  }
  testing::internal::CaptureStderr();
  const Engine e(Model::builtin_random_gpt2(), o);
  e.generate(kPrompt, greedy(4));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("ignoring plan cache file"), std::string::npos) << err;
}

TEST(Engine, DumpShowsEveryPlanWithItsFusions) {
  const Engine e(Model::builtin_random_gpt2());
  e.generate(kPrompt, greedy(3));
  const std::string dump = e.dump_graphs();
  EXPECT_NE(dump.find("== plan cpu/f32/B=1/T=8/S=64/last"), std::string::npos) << dump;
  EXPECT_NE(dump.find("== plan cpu/f32/B=1/T=1/S=64/last"), std::string::npos) << dump;
  EXPECT_NE(dump.find("attention("), std::string::npos);
  EXPECT_NE(dump.find("residual=%"), std::string::npos);
}

TEST(Engine, RejectsABadPromptBucket) {
  EngineOptions o;
  o.prompt_bucket = 0;
  EXPECT_THROW(Engine(Model::builtin_random_gpt2(), o), Error);
}

}  // namespace
}  // namespace jitgen
