// SlotBatch (continuous batching, model side): sequences that join and leave a shared decode batch at
// different lengths get exactly the tokens they get when generated alone, one decode plan serves every
// step, and a freed slot's next occupant never sees the old keys.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>

#include "generate/sampling.h"
#include "jitgen/error.h"
#include "jitgen/generate.h"
#include "exec/kv_cache.h"
#include "models/model_impl.h"
#include "ops/prepared_weights.h"
#include "serve/slot_batch.h"
#include "test_support.h"

namespace jitgen {
namespace {

std::vector<int32_t> alone(const Model& m, const std::vector<int32_t>& prompt, int n) {
  GenerationConfig c;
  c.max_new_tokens = n;
  c.eos_token_id = {};
  const GenerateOutput out = generate(m, {{prompt}, {}}, c);
  return {out.sequences[0].begin() + prompt.size(), out.sequences[0].end()};
}

int32_t argmax(const float* row, int V) { return decoding::argmax_row(row, V); }

TEST(SlotBatch, StaggeredSequencesMatchGenerationAlone) {
  const Model m = Model::builtin_random_gpt2();
  const int V = m.info().vocab_size, N = 12;
  const std::vector<std::vector<int32_t>> prompts = {
      {464, 2068, 7586, 21831, 18045}, {40, 1101, 257, 2746, 11, 290, 314, 588, 284, 6716, 13}, {15496, 995}, {1}};
  SlotBatch batch(m, 3, 64);
  struct Live {
    int prompt;
    std::vector<int32_t> got;
  };
  std::map<int, Live> live;  // slot -> sequence
  std::map<int, std::vector<int32_t>> done;
  size_t next = 0;
  std::vector<int32_t> token(3, 0);
  std::vector<uint8_t> feed(3, 0);
  for (int step = 0; done.size() < prompts.size(); ++step) {
    // One newcomer every third step, into the lowest free slot (slot 1 first, so slot 0 is not special).
    if (step % 3 == 0 && next < prompts.size()) {
      for (int s : {1, 0, 2})
        if (!batch.busy(s)) {
          const float* logits = batch.prefill(s, prompts[next]);
          live[s] = {static_cast<int>(next++), {argmax(logits, V)}};
          break;
        }
    }
    std::fill(feed.begin(), feed.end(), 0);
    for (auto& [s, l] : live) {
      token[s] = l.got.back();
      feed[s] = 1;
    }
    if (live.empty()) continue;
    const float* logits = batch.decode(token, feed);
    for (auto it = live.begin(); it != live.end();) {
      it->second.got.push_back(argmax(logits + static_cast<int64_t>(it->first) * V, V));
      if (static_cast<int>(it->second.got.size()) == N) {
        done[it->second.prompt] = it->second.got;
        batch.release(it->first);
        it = live.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (size_t p = 0; p < prompts.size(); ++p) EXPECT_EQ(done[static_cast<int>(p)], alone(m, prompts[p], N)) << p;
  EXPECT_EQ(batch.stats().cache_misses + batch.stats().cache_hits, 3);  // prefill buckets 8 and 16, one decode plan
}

// A row's logits are bit for bit those of the same sequence decoded alone (a 1-slot batch: the M = 1 kernels),
// whatever rows are beside it and while they come and go: the last of 7 slots is a 1-row remainder tile of the fp32
// (3 rows) and bf16 (2 rows) AVX2 panels and sits in a 7-row tile on AVX-512, where a tile's arithmetic once depended
// on its row count; every other step a neighbour leaves and a newcomer's prompt (1-40 tokens, other prefill buckets)
// is prefilled between decode steps. Token equality alone would miss a difference that has not yet flipped an argmax.
TEST(SlotBatch, RowLogitsDoNotDependOnTheRowsBesideIt) {
  for (const char* format : {"f32", "bf16", "int8"}) {
    const Model m = [&] {
      const cpu::ScopedWeightFormat scope(cpu::parse_weight_format(format, "test"));
      return Model::builtin_random_gpt2();
    }();
    const int V = m.info().vocab_size, kSlots = 7, kRow = kSlots - 1;
    const std::vector<int32_t> prompt = {7454, 2402, 257, 640, 11, 287, 257, 5897, 7404, 11};
    SlotBatch alone(m, 1, 128), crowd(m, kSlots, 128);
    const float* a = alone.prefill(0, prompt);
    std::vector<float> want(a, a + V);
    std::mt19937 rng(5);
    const auto newcomer = [&](int s) {
      std::vector<int32_t> p(1 + rng() % 40);
      for (int32_t& t : p) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(V));
      return argmax(crowd.prefill(s, p), V);
    };
    std::vector<int32_t> token(kSlots);
    for (int s = 0; s < kRow; ++s) token[s] = newcomer(s);
    ASSERT_EQ(0, std::memcmp(want.data(), crowd.prefill(kRow, prompt), V * sizeof(float))) << format << " prefill";
    for (int step = 0; step < 24; ++step) {
      token[kRow] = argmax(want.data(), V);
      if (step % 2 == 1) {  // a neighbour leaves and a newcomer takes its slot
        const int s = static_cast<int>(rng() % kRow);
        crowd.release(s);
        token[s] = newcomer(s);
      }
      const float* got_alone = alone.decode({token[kRow]}, {1});
      want.assign(got_alone, got_alone + V);
      const float* got = crowd.decode(token, std::vector<uint8_t>(kSlots, 1));
      ASSERT_EQ(0, std::memcmp(want.data(), got + static_cast<int64_t>(kRow) * V, V * sizeof(float)))
          << format << " decode step " << step;
      for (int s = 0; s < kRow; ++s) {
        token[s] = argmax(got + static_cast<int64_t>(s) * V, V);
        if (crowd.length(s) > 100) {  // before it runs out of cache slots
          crowd.release(s);
          token[s] = newcomer(s);
        }
      }
    }
  }
}

TEST(SlotBatch, ForkedSlotsContinueLikeTheOriginal) {
  const Model m = Model::builtin_random_gpt2();
  const int V = m.info().vocab_size;
  const std::vector<int32_t> prompt = {464, 2068, 7586, 21831, 18045, 625};
  SlotBatch batch(m, 2, 64);
  const int32_t first = argmax(batch.prefill(0, prompt), V);
  batch.fork(0, 1);
  std::vector<int32_t> token = {first, first};
  for (int step = 0; step < 6; ++step) {
    const float* logits = batch.decode(token, {1, 1});
    token = {argmax(logits, V), argmax(logits + V, V)};
    EXPECT_EQ(token[0], token[1]) << step;
    EXPECT_EQ(std::vector<float>(logits, logits + V), std::vector<float>(logits + V, logits + 2 * V)) << step;
  }
}

TEST(SlotBatch, LimitsGiveClearErrors) {
  const Model m = Model::builtin_random_gpt2();
  SlotBatch batch(m, 1, 64);
  EXPECT_THROW(batch.prefill(0, {}), Error);
  EXPECT_THROW(batch.prefill(0, std::vector<int32_t>(64, 1)), Error);
  EXPECT_THROW(batch.prefill(0, {m.info().vocab_size}), Error);
  batch.prefill(0, std::vector<int32_t>(63, 1));
  batch.decode({1}, {1});
  EXPECT_THROW(batch.decode({1}, {1}), Error);  // 64 slots used: none left for another token
  EXPECT_THROW(SlotBatch(m, 1, m.info().n_positions + 1), Error);
}

// The host beam reorder (runners that cannot trace it): row r of every K/V layer and of the key mask becomes
// old row src[r], also when one row feeds several.
TEST(KvCache, ReorderGathersRowsEvenWhenOneFeedsSeveral) {
  const Model m = Model::builtin_random_gpt2();
  KvCache cache(m.impl().spec(), 3, 8);
  auto fill = [](Tensor& t, int rows) {
    const int64_t per_row = t.numel() / rows;
    for (int64_t i = 0; i < t.numel(); ++i) {
      const int64_t v = (i / per_row) * 1000 + i % per_row;
      if (t.dtype() == DType::kI32) t.i32()[i] = static_cast<int32_t>(v);
      else t.f32()[i] = static_cast<float>(v);
    }
  };
  for (int l = 0; l < static_cast<int>(cache.k.size()); ++l) {
    fill(cache.k[l], 3);
    fill(cache.v[l], 3);
  }
  fill(cache.key_mask, 3);
  cache.reorder({2, 0, 0});
  auto row_of = [](const Tensor& t, int64_t i) {
    const int64_t v = t.dtype() == DType::kI32 ? t.i32()[i] : static_cast<int64_t>(t.f32()[i]);
    return v / 1000;
  };
  const int64_t per_row = cache.k[0].numel() / 3, mask_row = cache.key_mask.numel() / 3;
  for (int r = 0; r < 3; ++r) {
    const int want = r == 0 ? 2 : 0;
    EXPECT_EQ(row_of(cache.k.back(), r * per_row + per_row - 1), want) << r;
    EXPECT_EQ(row_of(cache.v[0], r * per_row), want) << r;
    EXPECT_EQ(row_of(cache.key_mask, r * mask_row + 3), want) << r;
  }
}

// K and V of every layer lie in one buffer in the order a step reads them (layer 0's K, its V, layer 1's K, ...: the
// huge-page mapping of exec/kv_cache.cc), and grow_to keeps each head's filled slots and zeroes the new ones.
TEST(KvCache, LayersLieBackToBackInReadOrderAndGrowKeepsTheFilledSlots) {
  const Model m = Model::builtin_random_gpt2();
  const ModelSpec& spec = m.impl().spec();
  const int rows = 2, capacity = 5;
  KvCache cache(spec, rows, capacity);
  const size_t layer_bytes = (cache.k[0].nbytes() + 63) / 64 * 64;
  ASSERT_EQ(static_cast<int>(cache.k.size()), spec.n_layer);
  for (int l = 0; l < spec.n_layer; ++l) {
    EXPECT_EQ(static_cast<char*>(cache.v[l].data()), static_cast<char*>(cache.k[l].data()) + layer_bytes) << l;
    if (l > 0) {
      EXPECT_EQ(static_cast<char*>(cache.k[l].data()), static_cast<char*>(cache.v[l - 1].data()) + layer_bytes) << l;
    }
  }
  const int64_t heads = static_cast<int64_t>(rows) * spec.n_kv_head, D = spec.head_dim;
  auto value = [&](int l, int which, int64_t h, int64_t s, int64_t d) {
    return static_cast<float>(((l * 2 + which) * heads + h) * 1000 + s * D + d + 1);
  };
  for (int l = 0; l < spec.n_layer; ++l)
    for (int which = 0; which < 2; ++which)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t s = 0; s < capacity; ++s)
          for (int64_t d = 0; d < D; ++d)
            (which ? cache.v[l] : cache.k[l]).f32()[(h * capacity + s) * D + d] = value(l, which, h, s, d);
  cache.key_mask.i32()[1 * capacity + 4] = 1;
  cache.grow_to(9);
  ASSERT_EQ(cache.capacity, 9);
  const size_t grown_bytes = (cache.k[0].nbytes() + 63) / 64 * 64;
  EXPECT_EQ(static_cast<char*>(cache.v[0].data()), static_cast<char*>(cache.k[0].data()) + grown_bytes);
  for (int l = 0; l < spec.n_layer; ++l)
    for (int which = 0; which < 2; ++which)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t s = 0; s < 9; ++s)
          for (int64_t d = 0; d < D; ++d)
            ASSERT_EQ((which ? cache.v[l] : cache.k[l]).f32()[(h * 9 + s) * D + d],
                      s < capacity ? value(l, which, h, s, d) : 0.0f)
                << l << " " << which << " " << h << " " << s << " " << d;
  EXPECT_EQ(cache.key_mask.i32()[1 * 9 + 4], 1);
  EXPECT_EQ(cache.key_mask.i32()[1 * 9 + 5], 0);
}

}  // namespace
}  // namespace jitgen
