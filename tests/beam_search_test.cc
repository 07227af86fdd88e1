#include "generate/beam_search.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "generate/logits_processors.h"
#include "jitgen/error.h"
#include "test_support.h"

namespace jitgen::decoding {
namespace {

using nlohmann::json;

// HF goldens: transformers' generate() beam search on a fake model whose next-token logits are
// A[last token] + B[new-token index] (scripts/goldens_processors.py).
TEST(BeamSearchGolden, MatchesTransformersGenerate) {
  const json doc = test::load_fixture("beam_goldens.json");
  const int V = doc["V"], P = doc["prompt_len"];
  const auto A = doc["A"].get<std::vector<float>>();
  const auto Btab = doc["B"].get<std::vector<float>>();
  const int b_rows = static_cast<int>(Btab.size()) / V;
  const auto prompts = doc["prompts"].get<std::vector<std::vector<int32_t>>>();
  for (const auto& run : doc["runs"]) {
    const json& c = run["config"];
    GenerationConfig cfg = merge_generation_config(c, GenerationConfig{}, "beam golden");
    BeamSearchOptions o;
    o.batch_size = static_cast<int>(prompts.size());
    o.num_beams = cfg.num_beams;
    o.prompt_len = P;
    o.max_length = effective_max_length(cfg, P, 1024);
    o.length_penalty = cfg.length_penalty;
    o.early_stopping = cfg.early_stopping;
    o.eos = cfg.eos_token_id;
    o.pad_token_id = cfg.pad_token_id;
    o.num_return_sequences = cfg.num_return_sequences;
    BeamSearch bs(o, prompts);
    std::vector<float> lp(static_cast<size_t>(bs.rows()) * V);
    while (!bs.done()) {
      const int step = std::min(bs.step_index(), b_rows - 1);
      for (int r = 0; r < bs.rows(); ++r) {
        const int last = bs.running_sequence(r)[bs.cur_len() - 1];
        std::vector<float> logits(V);
        for (int v = 0; v < V; ++v) logits[v] = A[last * V + v] + Btab[step * V + v];
        log_softmax_row(logits.data(), &lp[static_cast<size_t>(r) * V], V);
      }
      bs.step(lp.data(), V);
    }
    const BeamSearchResult res = bs.finalize();
    const std::string what = c.dump();
    EXPECT_EQ(res.sequences, run["sequences"].get<std::vector<std::vector<int32_t>>>()) << what;
    EXPECT_EQ(res.beam_indices, run["beam_indices"].get<std::vector<std::vector<int32_t>>>()) << what;
    const auto want = run["sequences_scores"].get<std::vector<float>>();
    ASSERT_EQ(res.scores.size(), want.size()) << what;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(res.scores[i], want[i], 1e-5) << what;
  }
}

// Hand computation from _update_finished_beams: one step, nb = 2, V = 3, eos = 2, max_length = prompt + 1.
// All candidates hit max_length; the two best of acc = log_probs (beam 0 only, beam 1 starts at -1e9) are finished
// with score acc / 1 ** lp.
TEST(BeamSearchRules, LastStepFinishesTopBeamsWithLengthPenalty) {
  BeamSearchOptions o;
  o.batch_size = 1;
  o.num_beams = 2;
  o.prompt_len = 1;
  o.max_length = 3;
  o.length_penalty = 2.0;
  o.eos = {2};
  o.num_return_sequences = 2;
  BeamSearch bs(o, {{0}});
  const float lp1[] = {std::log(0.5f), std::log(0.2f), std::log(0.3f), -1.0f, -1.0f, -1.0f};
  bs.step(lp1, 3);
  // Step 1: candidates token 0 (0.5), eos (0.3), token 1 (0.2): eos is in the top nb -> finished with
  // log(0.3) / 1 ** 2. Running: token 0 and token 1.
  EXPECT_FALSE(bs.done());
  EXPECT_EQ(bs.next_tokens(), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(bs.source_rows(), (std::vector<int32_t>{0, 0}));
  const float lp2[] = {std::log(0.9f), std::log(0.05f), std::log(0.05f), std::log(0.4f), std::log(0.4f), std::log(0.2f)};
  bs.step(lp2, 3);
  EXPECT_TRUE(bs.done());  // max_length reached
  const auto r = bs.finalize();
  // Step 2 candidates (K = 4): [0,0,0] = log .5 + log .9 = -0.799, [0,1,0] = [0,1,1] = log .2 + log .4 = -2.526
  // (tie -> lower flat index), [0,0,1] = -3.689. All hit max_length; only the top nb = 2 may finish, divided by
  // 2 ** 2: -0.1997 and -0.6316, both better than the step-1 EOS hypothesis [0, 2] = log .3 / 1 = -1.204.
  ASSERT_EQ(r.sequences.size(), 2u);
  EXPECT_EQ(r.sequences[0], (std::vector<int32_t>{0, 0, 0}));
  EXPECT_NEAR(r.scores[0], (std::log(0.5) + std::log(0.9)) / 4.0, 1e-6);
  EXPECT_EQ(r.sequences[1], (std::vector<int32_t>{0, 1, 0}));
  EXPECT_NEAR(r.scores[1], (std::log(0.2) + std::log(0.4)) / 4.0, 1e-6);
  EXPECT_EQ(r.beam_indices[1], (std::vector<int32_t>{0, 1}));
}

TEST(BeamSearchRules, RejectsMoreReturnSequencesThanBeams) {
  BeamSearchOptions o;
  o.num_beams = 2;
  o.num_return_sequences = 3;
  o.prompt_len = 1;
  o.max_length = 4;
  EXPECT_THROW(BeamSearch(o, {{0}}), Error);
}

}  // namespace
}  // namespace jitgen::decoding
