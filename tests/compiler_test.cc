// The compiler: graph capture of the one model definition, fusion passes, the static memory plan, the
// compile cache and its buckets, and the allocation-free compiled decode step.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "graph/compile_cache.h"
#include "graph/executable.h"
#include "graph/tracing_builder.h"
#include "exec/compiled_step_runner.h"
#include "exec/eager_step_runner.h"
#include "generate/token_chooser.h"
#include "jitgen/generate.h"
#include "models/model_impl.h"

// Counts heap allocations made by this test binary (to prove the compiled decode step makes none).
static std::atomic<int64_t> g_allocations{0};
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
// Every delete matches the malloc above (sanitizers check new/free pairs).
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace jitgen {
namespace {

Graph trace_tiny(const Model& m, int rows, int tokens, int capacity, bool last_only) {
  const ModelSpec& c = m.impl().spec();
  TracingBuilder tb;
  tb.declare("input_ids", {rows, tokens}, DType::kI32);
  tb.declare("position_ids", {rows, tokens}, DType::kI32);
  tb.declare("cache_pos", {rows}, DType::kI32);
  tb.declare("key_mask", {rows, capacity}, DType::kI32);
  for (int l = 0; l < c.n_layer; ++l) {
    tb.declare("k_cache." + std::to_string(l), {rows, c.n_kv_head, capacity, c.head_dim}, DType::kF32);
    tb.declare("v_cache." + std::to_string(l), {rows, c.n_kv_head, capacity, c.head_dim}, DType::kF32);
  }
  return tb.finish(m.impl().model->build(tb, last_only));
}

TEST(CompilerPasses, FusionRewritesEveryLayer) {
  const Model m = Model::builtin_random_gpt2();
  const int L = m.info().n_layer;
  auto exe = Executable::compile(trace_tiny(m, 2, 8, 64, true));
  const PassStats& s = exe->pass_stats();
  EXPECT_EQ(s.fused_embeddings, 1);
  EXPECT_EQ(s.fused_activations, L);     // c_fc + gelu
  EXPECT_EQ(s.fused_residuals, 2 * L);   // attn c_proj + residual, mlp c_proj + residual
  const std::string dump = exe->graph().dump();
  EXPECT_NE(dump.find("embedding_sum"), std::string::npos) << dump;
  EXPECT_NE(dump.find("act=gelu_tanh"), std::string::npos) << dump;
  EXPECT_NE(dump.find("residual=%"), std::string::npos) << dump;
  EXPECT_EQ(dump.find("= add("), std::string::npos) << "every add was fused:\n" << dump;
  EXPECT_EQ(dump.find("= activation("), std::string::npos) << dump;
}

TEST(CompilerPasses, DeadCodeIsRemovedButAttentionKeepsItsSideEffect) {
  const Model m = Model::builtin_random_gpt2();
  Graph g = trace_tiny(m, 1, 4, 64, true);
  // A node nobody reads: must go. The attention nodes write the KV cache: must stay.
  Node orphan{OpKind::kAdd, {g.output, g.output}};
  orphan.shape = g.nodes[g.output].shape;
  g.nodes.push_back(orphan);
  PassStats stats;
  eliminate_dead_code(g, stats);
  EXPECT_GE(stats.removed_dead, 1);
  EXPECT_TRUE(g.nodes.back().dead);
  int attention = 0;
  for (const Node& n : g.nodes) attention += (!n.dead && n.op == OpKind::kAttention) ? 1 : 0;
  EXPECT_EQ(attention, m.info().n_layer);
}

TEST(CompilerMemoryPlan, BuffersAliveTogetherNeverOverlapAndMemoryIsReused) {
  const Model m = Model::builtin_random_gpt2();
  auto exe = Executable::compile(trace_tiny(m, 4, 16, 64, true));
  const Graph& g = exe->graph();
  const MemoryPlan& plan = exe->memory_plan();
  const int N = static_cast<int>(g.nodes.size());
  std::vector<int> last(N, -1);
  for (int i = 0; i < N; ++i) {
    if (g.nodes[i].dead) continue;
    for (int in : g.nodes[i].inputs) last[in] = std::max(last[in], i);
    if (g.nodes[i].residual >= 0) last[g.nodes[i].residual] = std::max(last[g.nodes[i].residual], i);
  }
  last[g.output] = N;
  int checked = 0;
  for (int a = 0; a < N; ++a)
    for (int b = a + 1; b < N; ++b) {
      if (plan.offset[a] == MemoryPlan::kNone || plan.offset[b] == MemoryPlan::kNone) continue;
      const bool time_overlap = !(std::max(a, last[a]) < b || std::max(b, last[b]) < a);
      if (!time_overlap) continue;
      const size_t sa = shape_numel(g.nodes[a].shape) * 4, sb = shape_numel(g.nodes[b].shape) * 4;
      const bool space_overlap = plan.offset[a] < plan.offset[b] + sb && plan.offset[b] < plan.offset[a] + sa;
      EXPECT_FALSE(space_overlap) << "nodes " << a << " and " << b;
      ++checked;
    }
  EXPECT_GT(checked, 10);
  // Liveness reuse: the arena is well below the sum of all intermediates.
  EXPECT_LT(plan.arena_bytes, plan.naive_bytes);
}

TEST(CompilerCache, PromptLengthsInOneBucketShareAPlan) {
  const Model m = Model::builtin_random_gpt2();
  auto run = [&](int prompt_len) {
    CompiledStepRunner r(m, 1, prompt_len + 3, 8);
    std::vector<std::vector<int32_t>> ids{std::vector<int32_t>(prompt_len, 11)}, pos(1), mask(1);
    for (int t = 0; t < prompt_len; ++t) pos[0].push_back(t), mask[0].push_back(1);
    r.step(ids, pos, mask, true);
    const int32_t tok = 5, p = prompt_len;
    r.decode(&tok, &p);
    return r.stats();
  };
  const RunnerStats a = run(4), b = run(5), c = run(9);
  EXPECT_EQ(a.cache_misses, 2);  // prefill T=8 and decode
  EXPECT_EQ(b.cache_misses, 0);  // same buckets: T=8, S=64
  EXPECT_EQ(b.cache_hits, 2);
  EXPECT_EQ(c.cache_misses, 1);  // prefill T=16 is new; the decode plan (B=1, S=64) is shared
}

TEST(CompilerCache, CapacityBucketsGrowAndNeverExceedThePositionTable) {
  EXPECT_EQ(CompiledStepRunner::capacity_bucket(10, 1024), 64);
  EXPECT_EQ(CompiledStepRunner::capacity_bucket(64, 1024), 64);
  EXPECT_EQ(CompiledStepRunner::capacity_bucket(65, 1024), 128);
  EXPECT_EQ(CompiledStepRunner::capacity_bucket(700, 1024), 1024);
  EXPECT_EQ(CompiledStepRunner::capacity_bucket(200, 256), 256);
  EXPECT_EQ(CompiledStepRunner::capacity_bucket(30, 40), 40);
}

TEST(CompilerCache, ALongerRequestOnTheSameRunnerIsALimitErrorNotAnOverflow) {
  const Model m = Model::builtin_random_gpt2();
  CompiledStepRunner r(m, 1, 3, 1);
  std::vector<std::vector<int32_t>> ids{{1, 2}}, pos{{0, 1}}, mask{{1, 1}};
  r.step(ids, pos, mask, true);
  const int32_t tok = 3, p = 2;
  r.decode(&tok, &p);
  const int32_t p2 = 3;
  EXPECT_THROW(r.decode(&tok, &p2), Error);
}

TEST(CompilerEquality, CompiledLogitsEqualEagerForPrefillAndDecode) {
  const Model m = Model::builtin_random_gpt2();
  const int V = m.info().vocab_size;
  EagerStepRunner eager(m, 2, 12);
  CompiledStepRunner compiled(m, 2, 12, 8);
  std::vector<std::vector<int32_t>> ids{{0, 0, 7, 8, 9}, {3, 4, 5, 6, 7}}, pos{{1, 1, 0, 1, 2}, {0, 1, 2, 3, 4}},
      mask{{0, 0, 1, 1, 1}, {1, 1, 1, 1, 1}};
  auto expect_close = [&](const Tensor& a, const Tensor& b) {
    ASSERT_EQ(a.numel(), b.numel());
    double worst = 0;
    for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, double(std::abs(a.f32()[i] - b.f32()[i])));
    EXPECT_LE(worst, 1e-5);
  };
  expect_close(eager.step(ids, pos, mask, true), compiled.step(ids, pos, mask, true));
  for (int s = 0; s < 4; ++s) {
    const int32_t toks[2] = {100 + s, 200 + s}, p[2] = {3 + s, 5 + s};
    const Tensor e = eager.decode(toks, p);
    const Tensor c = compiled.decode(toks, p);
    expect_close(e, c);
  }
  EXPECT_EQ(V, m.info().vocab_size);
}

TEST(CompilerAllocations, CompiledDecodeStepAllocatesNothing) {
  const Model m = Model::builtin_random_gpt2();
  CompiledStepRunner r(m, 4, 40, 8);
  std::vector<std::vector<int32_t>> ids(4, {1, 2, 3}), pos(4, {0, 1, 2}), mask(4, {1, 1, 1});
  r.step(ids, pos, mask, true);
  int32_t toks[4] = {5, 6, 7, 8}, p[4] = {3, 3, 3, 3};
  r.decode(toks, p);  // the first decode compiles and binds its plan
  const int64_t before = g_allocations.load();
  for (int s = 0; s < 10; ++s) {
    for (int32_t& x : p) ++x;
    r.decode(toks, p);
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
}

// The whole generation step is one compiled program: forward, processors, sampling and finished flags
// (select_tokens) -- numeric options are runtime state, and a decode step still allocates nothing.
TEST(CompilerAllocations, TracedGenerationStepChoosesLikeEagerAndAllocatesNothing) {
  const Model m = Model::builtin_random_gpt2();
  GenerationConfig cfg;
  cfg.do_sample = true;
  cfg.temperature = 0.7;
  cfg.top_k = 20;
  cfg.top_p = 0.9;
  cfg.repetition_penalty = 1.3;
  cfg.no_repeat_ngram_size = 2;
  cfg.seed[0] = 42;
  cfg.eos_token_id = {};
  const int R = 4, steps = 12, L = 3 + steps + 1;
  auto run = [&](StepRunner& runner, bool count) {
    decoding::TokenChooser chooser(cfg, 3, L, std::nullopt, std::nullopt);
    std::vector<decoding::DecodeRow> rows(R);
    for (int r = 0; r < R; ++r) {
      rows[r].seq = {1, 2, static_cast<int32_t>(3 + r)};
      rows[r].seq.reserve(L);
      rows[r].row = r;
    }
    decoding::RowsSelect select(chooser, rows);
    EXPECT_TRUE(runner.set_select(&select, select.kind()));
    std::vector<std::vector<int32_t>> ids(R), pos(R, {0, 1, 2}), mask(R, {1, 1, 1});
    for (int r = 0; r < R; ++r) ids[r] = rows[r].seq;
    const Tensor first = runner.step(ids, pos, mask, true);
    EXPECT_EQ(first.dtype(), DType::kI32);
    std::vector<int32_t> toks(first.i32(), first.i32() + R), p(R, 3);
    int64_t allocations = 0;
    for (int s = 0; s < steps; ++s) {
      const int64_t before = g_allocations.load();
      const Tensor& t = runner.decode(toks.data(), p.data());
      if (s > 0) allocations += g_allocations.load() - before;  // the first decode compiles and binds its plan
      std::copy_n(t.i32(), R, toks.begin());
      for (int32_t& x : p) ++x;
    }
    if (count) EXPECT_EQ(allocations, 0);
    std::vector<std::vector<int32_t>> seqs;
    for (auto& r : rows) seqs.push_back(r.seq);
    return seqs;
  };
  CompiledStepRunner compiled(m, R, L, 8);
  EagerStepRunner eager(m, R, L);
  EXPECT_EQ(run(compiled, true), run(eager, false));
  bool traced = false;
  for (const auto& [key, exe] : m.impl().compile_cache->entries())
    if (key.select == "sample" && key.step_tokens == 1)
      traced = exe->graph().nodes[exe->graph().output].op == OpKind::kSelectTokens;
  EXPECT_TRUE(traced);
}

// Beam search traces its bookkeeping too: the beam plan ends with the candidate choice and the KV rows following
// their beams (reorder_rows), and gives the eager engine's beams.
TEST(CompilerEquality, BeamStepIsTracedWithItsCacheReorder) {
  const Model m = Model::builtin_random_gpt2();
  GenerationConfig cfg;
  cfg.num_beams = 3;
  cfg.num_return_sequences = 2;
  cfg.max_new_tokens = 9;
  cfg.length_penalty = 0.5;
  const GenerateInput in{{{464, 2068, 7586, 21831}, {50256, 15496, 11, 616}}, {{1, 1, 1, 1}, {0, 1, 1, 1}}};
  const GenerateOutput eager = generate(m, in, cfg, nullptr, ExecutionMode::kEager);
  const GenerateOutput compiled = generate(m, in, cfg, nullptr, ExecutionMode::kCompiled);
  EXPECT_EQ(eager.sequences, compiled.sequences);
  EXPECT_EQ(eager.sequences_scores, compiled.sequences_scores);
  int reorders = 0;
  for (const auto& [key, exe] : m.impl().compile_cache->entries())
    if (key.select == "beam")
      for (const Node& n : exe->graph().nodes) reorders += !n.dead && n.op == OpKind::kReorderRows;
  EXPECT_EQ(reorders, 2);  // the prefill plan and the decode plan
}

}  // namespace
}  // namespace jitgen
