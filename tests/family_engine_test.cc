// Every family through the Engine and its persistent plan cache: plans saved by one engine are loaded (checked,
// never trusted) by a fresh engine over a freshly built model, and give the same tokens as the eager reference, for
// greedy with a left-padded batch and for beam search (its reorder step). GPT-2 is covered by engine_test.cc.
#include <gtest/gtest.h>

#include <filesystem>

#include "jitgen/engine.h"
#include "test_support.h"

namespace jitgen {
namespace {

GenerationConfig config(int new_tokens, int beams) {
  GenerationConfig c;
  c.max_new_tokens = new_tokens;
  c.num_beams = c.num_return_sequences = beams;
  c.eos_token_id = {};
  c.pad_token_id = 0;
  return c;
}

class FamilyPlanCache : public ::testing::TestWithParam<const char*> {};

TEST_P(FamilyPlanCache, ANewEngineLoadsEveryPlanAndGivesTheEagerTokens) {
  const char* preset = GetParam();
  const GenerateInput batch{{{0, 0, 0, 17, 230, 5}, {40, 41, 42, 43, 44, 45}}, {{0, 0, 0, 1, 1, 1}, {1, 1, 1, 1, 1, 1}}};
  const GenerateInput one{{{7, 300, 12}}, {}};
  EngineOptions eager;
  eager.mode = ExecutionMode::kEager;
  const Engine reference(Model::random_preset(preset, 9), eager);
  const GenerateOutput want_greedy = reference.generate(batch, config(10, 1));
  const GenerateOutput want_beam = reference.generate(one, config(6, 3));

  test::TempDir dir;
  EngineOptions o;
  o.plan_cache_dir = dir.path();
  {
    const Engine cold(Model::random_preset(preset, 9), o);
    EXPECT_EQ(cold.generate(batch, config(10, 1)).sequences, want_greedy.sequences) << preset;
    EXPECT_EQ(cold.generate(one, config(6, 3)).sequences, want_beam.sequences) << preset;
    EXPECT_EQ(cold.cache_stats().loaded_from_disk, 0);
  }
  int files = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir.path())) files += f.path().extension() == ".json";
  EXPECT_GE(files, 4) << preset;  // prefill and decode plans of both requests

  const Engine warm(Model::random_preset(preset, 9), o);  // nothing compiled in memory
  EXPECT_EQ(warm.generate(batch, config(10, 1)).sequences, want_greedy.sequences) << preset;
  EXPECT_EQ(warm.generate(one, config(6, 3)).sequences, want_beam.sequences) << preset;
  EXPECT_EQ(warm.cache_stats().loaded_from_disk, files) << preset;
}

INSTANTIATE_TEST_SUITE_P(Presets, FamilyPlanCache,
                         ::testing::Values("llama-tiny", "mistral-tiny", "qwen2-tiny", "opt-tiny", "opt-tiny-postln"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace jitgen
