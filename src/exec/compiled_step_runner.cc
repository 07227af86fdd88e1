#include "exec/compiled_step_runner.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "models/model_impl.h"
#include "exec/step_plan.h"

namespace jitgen {

namespace {
int round_up(int n, int m) { return m <= 1 ? n : (n + m - 1) / m * m; }
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int CompiledStepRunner::capacity_bucket(int needed, int n_positions) {
  int s = 64;
  while (s < needed) s *= 2;
  return std::max(needed, std::min(s, n_positions));
}

CompiledStepRunner::CompiledStepRunner(const Model& model, int rows, int capacity, int prompt_bucket)
    : model_(model), rows_(rows), requested_capacity_(capacity), prompt_bucket_(std::max(1, prompt_bucket)) {
  check_request(model.impl().spec(), rows, capacity);  // the cache is allocated at the first step
  cache_pos_ = Tensor::zeros({rows}, DType::kI32);
}

void CompiledStepRunner::ensure_cache(int pad) {
  if (cache_) return;
  const ModelSpec& c = model_.impl().spec();
  cache_ = std::make_unique<KvCache>(c, rows_, capacity_bucket(requested_capacity_ + pad, c.max_positions));
}

CompiledStepRunner::Bound& CompiledStepRunner::bind(int step_tokens, bool last_only) {
  for (auto& b : bound_)
    if (b->step_tokens == step_tokens && b->last_only == last_only) return *b;
  const std::string select = last_only && select_ ? select_kind_ : "";
  const CacheLookup lookup = compile_step(model_, rows_, step_tokens, cache_->capacity, last_only, select);
  lookup.hit ? ++stats_.cache_hits : ++stats_.cache_misses;
  stats_.compile_ms += lookup.compile_ms;

  auto b = std::make_unique<Bound>();
  b->step_tokens = step_tokens;
  b->last_only = last_only;
  b->exe = lookup.exe;
  b->ids = Tensor::zeros({rows_, step_tokens}, DType::kI32);
  b->positions = Tensor::zeros({rows_, step_tokens}, DType::kI32);
  b->kernel_ms.assign(b->exe->kernel_count(), 0.0);
  if (b->exe->arena_bytes() > arena_bytes_) {
    // Plans bound earlier keep pointing into the old arena: rebind them below.
    arena_storage_ = Tensor::zeros({static_cast<int64_t>(b->exe->arena_bytes())}, DType::kI32);  // 4x bytes
    arena_bytes_ = b->exe->arena_bytes();
    for (auto& other : bound_) {
      other->ctx.arena = static_cast<char*>(arena_storage_.data());
      if (other->last_only) other->logits = output_view(*other);
    }
  }
  b->ctx.arena = static_cast<char*>(arena_storage_.data());
  StepBuffers buffers{b->ids.data(), b->positions.data(), cache_pos_.data(), cache_->key_mask.data(), {}, {}, select_};
  for (size_t l = 0; l < cache_->k.size(); ++l) {
    buffers.k.push_back(cache_->k[l].data());
    buffers.v.push_back(cache_->v[l].data());
  }
  b->ctx.inputs = bind_step_inputs(*b->exe, buffers);
  if (last_only) b->logits = output_view(*b);
  bound_.push_back(std::move(b));
  return *bound_.back();
}

Tensor CompiledStepRunner::output_view(const Bound& b) const {
  void* out = const_cast<float*>(b.exe->output(b.ctx));
  if (b.exe->graph().nodes[b.exe->graph().output].op == OpKind::kSelectTokens)
    return Tensor::view(out, {rows_}, DType::kI32);
  return Tensor::view(out, {rows_, 1, model_.info().vocab_size}, DType::kF32);
}

bool CompiledStepRunner::set_select(TokenSelect* select, const std::string& kind) {
  JITGEN_CHECK(bound_.empty());  // before the first step: plans are bound with or without it
  select_ = select;
  select_kind_ = kind;
  return true;
}

const float* CompiledStepRunner::run(Bound& b) {
  std::fill_n(cache_pos_.i32(), rows_, slots_);  // rows of one generation share their write slot
  if (profiling_)
    b.exe->run_profiled(b.ctx, b.kernel_ms);
  else
    b.exe->run(b.ctx);
  return b.exe->output(b.ctx);
}

Tensor CompiledStepRunner::step(const std::vector<std::vector<int32_t>>& ids,
                                const std::vector<std::vector<int32_t>>& positions,
                                const std::vector<std::vector<int32_t>>& mask_new, bool last_only) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelSpec& c = model_.impl().spec();
  JITGEN_CHECK(static_cast<int>(ids.size()) == rows_);
  const int T = static_cast<int>(ids[0].size());
  if (length_ + T > requested_capacity_)
    throw_limit(fmt::format("KV cache full: {} + {} tokens exceed its capacity {}", length_, T, requested_capacity_));

  // The first step (prefill) runs at its length bucket: extra left pads, masked out.
  int pad = 0;
  if (!cache_) {
    pad = round_up(T, prompt_bucket_) - T;
    if (requested_capacity_ + pad > c.max_positions) pad = 0;  // no room in the position table: exact shape
    ensure_cache(pad);
  }
  const int Tp = T + pad;
  std::vector<std::vector<int32_t>> pids = ids, ppos = positions, pmask = mask_new;
  if (pad > 0) {
    const int32_t pad_pos = c.max_positions > 1 ? 1 : 0;
    for (int b = 0; b < rows_; ++b) {
      pids[b].insert(pids[b].begin(), pad, 0);
      ppos[b].insert(ppos[b].begin(), pad, pad_pos);
      pmask[b].insert(pmask[b].begin(), pad, 0);
    }
  }
  Bound& bound = bind(Tp, last_only);
  const PackedStep packed = pack_step(c, *cache_, slots_, pids, ppos, pmask);
  std::memcpy(bound.ids.data(), packed.ids.data(), packed.ids.nbytes());
  std::memcpy(bound.positions.data(), packed.positions.data(), packed.positions.nbytes());
  const float* out = run(bound);
  length_ += T;
  slots_ += Tp;

  const int64_t V = c.vocab_size;
  Tensor logits;
  if (last_only) {
    logits = bound.logits;  // [B, 1, V], or the chosen tokens [B] with a select
  } else {  // all positions: drop the bucket's padding rows
    logits = Tensor::zeros({rows_, T, V});
    for (int b = 0; b < rows_; ++b)
      std::memcpy(logits.f32() + b * T * V, out + (static_cast<int64_t>(b) * Tp + pad) * V, T * V * sizeof(float));
  }
  stats_.run_ms += ms_since(t0);
  ++stats_.steps;
  return logits;
}

const Tensor& CompiledStepRunner::decode(const int32_t* tokens, const int32_t* positions) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelSpec& c = model_.impl().spec();
  if (length_ + 1 > requested_capacity_)
    throw_limit(fmt::format("KV cache full: {} + 1 tokens exceed its capacity {}", length_, requested_capacity_));
  ensure_cache(0);
  if (!decode_) decode_ = &bind(1, true);
  int32_t* ids = decode_->ids.i32();
  int32_t* pos = decode_->positions.i32();
  int32_t* mask = cache_->key_mask.i32();
  for (int b = 0; b < rows_; ++b) {
    if (tokens[b] < 0 || tokens[b] >= c.vocab_size)
      throw_invalid_argument(fmt::format("token id {} is outside the vocabulary [0, {})", tokens[b], c.vocab_size));
    if (positions[b] < 0 || positions[b] >= c.max_positions)
      throw_limit(
          fmt::format("position {} is outside the position table (n_positions = {})", positions[b], c.max_positions));
    ids[b] = tokens[b];
    pos[b] = positions[b];
    mask[static_cast<int64_t>(b) * cache_->capacity + slots_] = 1;
  }
  const float* out = run(*decode_);
  ++length_;
  ++slots_;
  stats_.run_ms += ms_since(t0);
  ++stats_.steps;
  JITGEN_CHECK(out == decode_->logits.data());
  return decode_->logits;
}

OpProfile CompiledStepRunner::profile() const {
  OpProfile p;
  std::map<std::string, OpProfile::Row> by_label;
  for (const auto& b : bound_) {
    for (int i = 0; i < b->exe->kernel_count(); ++i) {
      OpProfile::Row& r = by_label[b->exe->kernel_label(i)];
      r.label = b->exe->kernel_label(i);
      r.ms += b->kernel_ms[i];
      p.kernel_ms += b->kernel_ms[i];
    }
  }
  for (auto& [label, row] : by_label) p.rows.push_back(row);
  std::sort(p.rows.begin(), p.rows.end(), [](const auto& a, const auto& b) { return a.ms > b.ms; });
  p.step_ms = stats_.run_ms;
  p.steps = stats_.steps;
  return p;
}

}  // namespace jitgen
