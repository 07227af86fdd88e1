#include "models/compiled_step_runner.h"

#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "graph/tracing_builder.h"
#include "models/model_impl.h"

namespace jitgen {

namespace {
int round_up(int n, int m) { return m <= 1 ? n : (n + m - 1) / m * m; }
}  // namespace

int CompiledStepRunner::capacity_bucket(int needed, int n_positions) {
  int s = 64;
  while (s < needed) s *= 2;
  return std::max(needed, std::min(s, n_positions));
}

CompiledStepRunner::CompiledStepRunner(const Model& model, int rows, int capacity, int prompt_bucket)
    : model_(model), rows_(rows), requested_capacity_(capacity), prompt_bucket_(std::max(1, prompt_bucket)) {
  const io::Gpt2Config& c = model.impl().config;
  if (rows < 1) throw_invalid_argument("the batch is empty");
  if (capacity > c.n_positions)
    throw_limit(fmt::format("prompt + new tokens = {} exceeds the model's position table (n_positions = {})",
                            capacity, c.n_positions));
}

Tensor CompiledStepRunner::step(const std::vector<std::vector<int32_t>>& ids,
                                const std::vector<std::vector<int32_t>>& positions,
                                const std::vector<std::vector<int32_t>>& mask_new, bool last_only) {
  const io::Gpt2Config& c = model_.impl().config;
  JITGEN_CHECK(static_cast<int>(ids.size()) == rows_);
  const int T = static_cast<int>(ids[0].size());
  if (length_ + T > requested_capacity_)
    throw_limit(fmt::format("KV cache full: {} + {} tokens exceed its capacity {}", length_, T, requested_capacity_));

  // The first step (prefill) runs at its length bucket: extra left pads, masked out.
  int pad = 0;
  if (!cache_) {
    pad = round_up(T, prompt_bucket_) - T;
    if (requested_capacity_ + pad > c.n_positions) pad = 0;  // no room in the position table: exact shape
    cache_ = std::make_unique<KvCache>(c, rows_, capacity_bucket(requested_capacity_ + pad, c.n_positions));
  }
  const int Tp = T + pad;
  std::vector<std::vector<int32_t>> pids = ids, ppos = positions, pmask = mask_new;
  if (pad > 0) {
    const int32_t pad_pos = c.n_positions > 1 ? 1 : 0;
    for (int b = 0; b < rows_; ++b) {
      pids[b].insert(pids[b].begin(), pad, 0);
      ppos[b].insert(ppos[b].begin(), pad, pad_pos);
      pmask[b].insert(pmask[b].begin(), pad, 0);
    }
  }
  PackedStep packed = pack_step(c, *cache_, slots_, pids, ppos, pmask);
  Tensor cache_pos = Tensor::zeros({1}, DType::kI32);
  cache_pos.i32()[0] = slots_;

  const CompileKey key{"cpu", "f32", rows_, Tp, cache_->capacity, last_only};
  const CacheLookup lookup = model_.impl().compile_cache->get_or_compile(key, [&] {
    TracingBuilder tb;
    tb.declare("input_ids", {rows_, Tp}, DType::kI32);
    tb.declare("position_ids", {rows_, Tp}, DType::kI32);
    tb.declare("cache_pos", {1}, DType::kI32);
    tb.declare("key_mask", {rows_, cache_->capacity}, DType::kI32);
    for (int l = 0; l < c.n_layer; ++l) {
      tb.declare(fmt::format("k_cache.{}", l), cache_->k[l].shape(), DType::kF32);
      tb.declare(fmt::format("v_cache.{}", l), cache_->v[l].shape(), DType::kF32);
    }
    return tb.finish(build_gpt2(tb, c, model_.impl().weights, last_only));
  });
  const Executable& exe = *lookup.exe;
  lookup.hit ? ++stats_.cache_hits : ++stats_.cache_misses;
  stats_.compile_ms += lookup.compile_ms;

  if (exe.arena_bytes() > arena_bytes_) {
    arena_storage_ = Tensor::zeros({static_cast<int64_t>(exe.arena_bytes())}, DType::kF32);  // 4x: never short
    arena_bytes_ = exe.arena_bytes();
  }
  RunContext ctx;
  ctx.arena = static_cast<char*>(arena_storage_.data());
  for (const std::string& name : exe.input_names()) {
    void* p = nullptr;
    if (name == "input_ids") p = packed.ids.data();
    else if (name == "position_ids") p = packed.positions.data();
    else if (name == "cache_pos") p = cache_pos.data();
    else if (name == "key_mask") p = cache_->key_mask.data();
    else if (name.rfind("k_cache.", 0) == 0) p = cache_->k.at(std::stoi(name.substr(8))).data();
    else if (name.rfind("v_cache.", 0) == 0) p = cache_->v.at(std::stoi(name.substr(8))).data();
    JITGEN_CHECK(p != nullptr);
    ctx.inputs.push_back(p);
  }
  const auto t0 = std::chrono::steady_clock::now();
  exe.run(ctx);
  stats_.run_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  length_ += T;
  slots_ += Tp;

  const int64_t V = c.vocab_size;
  float* out = const_cast<float*>(exe.output(ctx));
  if (last_only) return Tensor::view(out, {rows_, 1, V}, DType::kF32);
  // All positions: drop the bucket's padding rows.
  Tensor logits = Tensor::zeros({rows_, T, V});
  for (int b = 0; b < rows_; ++b)
    std::memcpy(logits.f32() + b * T * V, out + (static_cast<int64_t>(b) * Tp + pad) * V, T * V * sizeof(float));
  return logits;
}

}  // namespace jitgen
