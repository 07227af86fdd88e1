#include "serve/slot_batch.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "models/model_impl.h"
#include "exec/step_plan.h"

namespace jitgen {

namespace {
int round_up(int n, int m) { return m <= 1 ? n : (n + m - 1) / m * m; }
// The config, once the request is known to fit (before the cache is allocated).
const ModelSpec& checked_config(const Model& model, int slots, int capacity) {
  check_request(model.impl().spec(), slots, capacity);
  return model.impl().spec();
}
}  // namespace

struct SlotBatch::Plan {
  int rows = 0, step_tokens = 0;
  bool last_only = true;
  std::shared_ptr<const Executable> exe;
  RunContext ctx;
};

SlotBatch::SlotBatch(const Model& model, int slots, int capacity, int prompt_bucket)
    : model_(model),
      slots_(slots),
      capacity_(capacity),
      prompt_bucket_(std::max(1, prompt_bucket)),
      cache_(checked_config(model, slots, capacity), slots, capacity),
      length_(slots, 0),
      tokens_(slots, 0) {
  ids_ = Tensor::zeros({slots, 1}, DType::kI32);
  positions_ = Tensor::zeros({slots, 1}, DType::kI32);
  cache_pos_ = Tensor::zeros({slots}, DType::kI32);
  prefill_cache_pos_ = Tensor::zeros({1}, DType::kI32);
}

SlotBatch::~SlotBatch() = default;

SlotBatch::Plan& SlotBatch::plan(int rows, int step_tokens, bool last_only) {
  for (auto& p : plans_)
    if (p->rows == rows && p->step_tokens == step_tokens && p->last_only == last_only) return *p;
  const CacheLookup lookup = compile_step(model_, rows, step_tokens, capacity_, last_only);
  lookup.hit ? ++stats_.cache_hits : ++stats_.cache_misses;
  stats_.compile_ms += lookup.compile_ms;
  auto p = std::make_unique<Plan>();
  p->rows = rows;
  p->step_tokens = step_tokens;
  p->last_only = last_only;
  p->exe = lookup.exe;
  if (p->exe->arena_bytes() > arena_.nbytes()) {
    arena_ = Tensor::zeros({static_cast<int64_t>((p->exe->arena_bytes() + 3) / 4)}, DType::kI32);
    for (auto& other : plans_) other->ctx.arena = static_cast<char*>(arena_.data());
  }
  p->ctx.arena = static_cast<char*>(arena_.data());
  plans_.push_back(std::move(p));
  return *plans_.back();
}

void SlotBatch::check_slot(int slot) const {
  if (slot < 0 || slot >= slots_) throw_invalid_argument(fmt::format("slot {} is outside [0, {})", slot, slots_));
}

const float* SlotBatch::prefill(int slot, const std::vector<int32_t>& ids, bool all_logits) {
  const auto t0 = std::chrono::steady_clock::now();
  check_slot(slot);
  JITGEN_CHECK(!busy(slot));
  const ModelSpec& c = model_.impl().spec();
  const int n = static_cast<int>(ids.size());
  if (n == 0) throw_invalid_argument("prompt is empty (at least one token is needed)");
  if (n >= capacity_)
    throw_limit(fmt::format("prompt of {} tokens leaves no room in a context of {} tokens", n, capacity_));
  for (int32_t id : ids)
    if (id < 0 || id >= c.vocab_size)
      throw_invalid_argument(fmt::format("token id {} is outside the vocabulary [0, {})", id, c.vocab_size));
  // Prompt-length bucket: extra left pads, masked out and placed at position 1 as HF places pads.
  int Tp = round_up(n, prompt_bucket_);
  if (Tp >= capacity_) Tp = n;
  const int pad = Tp - n;
  Plan& p = plan(1, Tp, !all_logits);
  if (prefill_ids_.numel() != Tp) {
    prefill_ids_ = Tensor::zeros({1, Tp}, DType::kI32);
    prefill_pos_ = Tensor::zeros({1, Tp}, DType::kI32);
  }
  int32_t* mask = cache_.key_mask.i32() + static_cast<int64_t>(slot) * capacity_;
  for (int t = 0; t < Tp; ++t) {
    const bool real = t >= pad;
    prefill_ids_.i32()[t] = real ? ids[t - pad] : 0;
    prefill_pos_.i32()[t] = real ? t - pad : (c.max_positions > 1 ? 1 : 0);
    mask[t] = real ? 1 : 0;
  }
  prefill_cache_pos_.i32()[0] = 0;
  const int64_t row = static_cast<int64_t>(c.n_kv_head) * capacity_ * c.head_dim;
  StepBuffers buffers{prefill_ids_.data(), prefill_pos_.data(), prefill_cache_pos_.data(), mask, {}, {}};
  for (int l = 0; l < c.n_layer; ++l) {
    buffers.k.push_back(cache_.k[l].f32() + slot * row);
    buffers.v.push_back(cache_.v[l].f32() + slot * row);
  }
  p.ctx.inputs = bind_step_inputs(*p.exe, buffers);
  p.exe->run(p.ctx);
  length_[slot] = Tp;
  tokens_[slot] = n;
  stats_.run_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ++stats_.steps;
  return p.exe->output(p.ctx) + (all_logits ? static_cast<int64_t>(pad) * c.vocab_size : 0);
}

void SlotBatch::fork(int src, int dst) {
  check_slot(src);
  check_slot(dst);
  JITGEN_CHECK(busy(src) && !busy(dst));
  const ModelSpec& c = model_.impl().spec();
  const int64_t D = c.head_dim, S = capacity_, len = length_[src];
  for (int l = 0; l < c.n_layer; ++l)
    for (Tensor* t : {&cache_.k[l], &cache_.v[l]})
      for (int64_t h = 0; h < c.n_kv_head; ++h)
        std::memcpy(t->f32() + ((dst * c.n_kv_head + h) * S) * D, t->f32() + ((src * c.n_kv_head + h) * S) * D,
                    len * D * sizeof(float));
  std::memcpy(cache_.key_mask.i32() + dst * S, cache_.key_mask.i32() + src * S, S * sizeof(int32_t));
  length_[dst] = length_[src];
  tokens_[dst] = tokens_[src];
}

const float* SlotBatch::decode(const std::vector<int32_t>& token, const std::vector<uint8_t>& feed) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelSpec& c = model_.impl().spec();
  JITGEN_CHECK(static_cast<int>(token.size()) == slots_ && static_cast<int>(feed.size()) == slots_);
  if (!decode_) decode_ = &plan(slots_, 1, true);
  if (decode_->ctx.inputs.empty()) {
    StepBuffers buffers{ids_.data(), positions_.data(), cache_pos_.data(), cache_.key_mask.data(), {}, {}};
    for (int l = 0; l < c.n_layer; ++l) {
      buffers.k.push_back(cache_.k[l].data());
      buffers.v.push_back(cache_.v[l].data());
    }
    decode_->ctx.inputs = bind_step_inputs(*decode_->exe, buffers);
  }
  int32_t* mask = cache_.key_mask.i32();
  for (int s = 0; s < slots_; ++s) {
    if (!feed[s]) {
      // A row nobody reads: it writes its keys into its next (unmasked) slot, or slot 0 of a free row.
      ids_.i32()[s] = 0;
      positions_.i32()[s] = 0;
      cache_pos_.i32()[s] = std::min(length_[s], capacity_ - 1);
      continue;
    }
    JITGEN_CHECK(busy(s));
    if (length_[s] >= capacity_)
      throw_limit(fmt::format("slot {} is full: its context of {} tokens has no room for another", s, capacity_));
    if (token[s] < 0 || token[s] >= c.vocab_size)
      throw_invalid_argument(fmt::format("token id {} is outside the vocabulary [0, {})", token[s], c.vocab_size));
    if (tokens_[s] >= c.max_positions)
      throw_limit(fmt::format("position {} is outside the position table (n_positions = {})", tokens_[s],
                              c.max_positions));
    ids_.i32()[s] = token[s];
    positions_.i32()[s] = tokens_[s];
    cache_pos_.i32()[s] = length_[s];
    mask[static_cast<int64_t>(s) * capacity_ + length_[s]] = 1;
  }
  decode_->exe->run(decode_->ctx);
  for (int s = 0; s < slots_; ++s)
    if (feed[s]) {
      ++length_[s];
      ++tokens_[s];
    }
  stats_.run_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ++stats_.steps;
  return decode_->exe->output(decode_->ctx);
}

void SlotBatch::release(int slot) {
  check_slot(slot);
  std::fill_n(cache_.key_mask.i32() + static_cast<int64_t>(slot) * capacity_, capacity_, 0);
  length_[slot] = 0;
  tokens_[slot] = 0;
}

}  // namespace jitgen
