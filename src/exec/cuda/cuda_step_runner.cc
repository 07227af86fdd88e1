#include "exec/cuda/cuda_step_runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "graph/tracing_builder.h"
#include "exec/compiled_step_runner.h"
#include "exec/cuda/cuda_decode_loop.h"
#include "exec/cuda/cuda_model_state.h"
#include "exec/kv_cache.h"

namespace jitgen {

namespace {

std::atomic<int64_t> g_instances{0};

int round_up(int n, int m) { return m <= 1 ? n : (n + m - 1) / m * m; }
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The whole KV cache must fit in the GPU's free memory (with room for the arena and cuBLASLt).
void check_device_memory(const ModelSpec& c, int rows, int capacity, cuda::Storage s) {
  size_t free_bytes = 0, total = 0;
  JITGEN_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  const double bytes = 2.0 * c.n_layer * rows * static_cast<double>(capacity) * c.kv_width() * cuda::storage_bytes(s);
  if (bytes > 0.8 * static_cast<double>(free_bytes))
    throw_limit(fmt::format("out of GPU memory: the KV cache for {} rows x {} positions needs {:.1f} GiB, more than "
                            "80% of the {:.1f} GiB free; use a smaller batch or fewer new tokens",
                            rows, capacity, bytes / (1 << 30), static_cast<double>(free_bytes) / (1 << 30)));
}

// Runs before any member touches CUDA (the stream is created next): no GPU -> one actionable error.
const Model& with_device(const Model& m) {
  cuda::require_device();
  return m;
}

}  // namespace

cuda::Storage cuda_storage_from_env() {
  const char* e = std::getenv("JITGEN_CUDA_DTYPE");
  return e && *e ? cuda::parse_storage(e) : cuda::Storage::kF32;
}

CudaStepRunner::CudaStepRunner(const Model& model, int rows, int capacity, const CudaRunnerOptions& options)
    : model_(with_device(model).impl()), rows_(rows), requested_capacity_(capacity), options_(options) {
  options_.prompt_bucket = std::max(1, options_.prompt_bucket);
  const ModelSpec& c = model.impl().spec();
  check_request(c, rows, capacity);
  state_ = &CudaModelState::of(model_);
  check_device_memory(c, rows, capacity, options_.storage);
  staging_ = cuda::PinnedBuffer(3 * sizeof(int32_t) * rows);
  logits_host_ = cuda::PinnedBuffer(sizeof(float) * rows * static_cast<size_t>(c.vocab_size));
  logits_view_ = Tensor::view(logits_host_.data(), {rows, 1, c.vocab_size}, DType::kF32);
  gemm_ws_.reserve(cuda::kGemmWorkspaceBytes);
  ++g_instances;
}

CudaStepRunner::~CudaStepRunner() {
  // Graphs reference this runner's buffers: finish any work before they are freed.
  if (stream_.get()) cudaStreamSynchronize(stream_.get());
}

int64_t CudaStepRunner::instances() { return g_instances.load(); }

int64_t CudaStepRunner::graph_launches() const {
  return decode_graph_.launches() + (loop_ ? loop_->launches() : 0);
}

void CudaStepRunner::ensure_cache(int pad) {
  if (capacity_ > 0) return;
  const ModelSpec& c = model_.spec();
  capacity_ = CompiledStepRunner::capacity_bucket(requested_capacity_ + pad, c.max_positions);
  const size_t layer_bytes = static_cast<size_t>(rows_) * c.n_kv_head * capacity_ * c.head_dim *
                             cuda::storage_bytes(options_.storage);
  for (int l = 0; l < c.n_layer; ++l) {
    k_.emplace_back(layer_bytes);
    v_.emplace_back(layer_bytes);
  }
  key_mask_.reserve(sizeof(int32_t) * rows_ * capacity_);
  cache_pos_.reserve(sizeof(int32_t) * rows_);
  host_mask_.assign(static_cast<size_t>(rows_) * capacity_, 0);
  JITGEN_CUDA_CHECK(cudaMemsetAsync(key_mask_.data(), 0, key_mask_.bytes(), stream_.get()));
}

CudaStepRunner::Bound& CudaStepRunner::bind(int step_tokens, bool last_only) {
  for (auto& b : bound_)
    if (b->step_tokens == step_tokens && b->last_only == last_only) {
      ++stats_.cache_hits;  // a pooled runner reusing its bound plan (and captured graph)
      return *b;
    }
  const ModelSpec& c = model_.spec();
  CompileKey key;  // fields by name: the key grows (e.g. the traced token choice) without touching this
  key.device = options_.graphs ? "cuda" : "cuda-eager";
  key.dtype = cuda::storage_name(options_.storage);
  key.rows = rows_;
  key.step_tokens = step_tokens;
  key.capacity = capacity_;
  key.last_only = last_only;
  InputDecls inputs;
  inputs["input_ids"] = {{rows_, step_tokens}, DType::kI32};
  inputs["position_ids"] = {{rows_, step_tokens}, DType::kI32};
  inputs["cache_pos"] = {{rows_}, DType::kI32};
  inputs["key_mask"] = {{rows_, capacity_}, DType::kI32};
  const Shape cache_shape{rows_, c.n_kv_head, capacity_, c.head_dim};
  for (int l = 0; l < c.n_layer; ++l) {
    inputs[fmt::format("k_cache.{}", l)] = {cache_shape, DType::kF32};
    inputs[fmt::format("v_cache.{}", l)] = {cache_shape, DType::kF32};
  }
  const CudaPlanLookup lookup =
      state_->get_or_build(key, options_.graphs, options_.storage, [&] {
        TracingBuilder tb;
        for (const auto& [name, decl] : inputs) tb.declare(name, decl.first, decl.second);
        return tb.finish(model_.model->build(tb, last_only));
      });
  lookup.hit ? ++stats_.cache_hits : ++stats_.cache_misses;
  stats_.compile_ms += lookup.compile_ms;

  auto b = std::make_unique<Bound>();
  b->step_tokens = step_tokens;
  b->last_only = last_only;
  b->exe = lookup.exe;
  b->ids.reserve(sizeof(int32_t) * rows_ * step_tokens);
  b->positions.reserve(sizeof(int32_t) * rows_ * step_tokens);
  // Valid ids before anything is uploaded: a warm-up run (warm_up_decode) must not gather out of the tables.
  JITGEN_CUDA_CHECK(cudaMemsetAsync(b->ids.data(), 0, b->ids.bytes(), stream_.get()));
  JITGEN_CUDA_CHECK(cudaMemsetAsync(b->positions.data(), 0, b->positions.bytes(), stream_.get()));
  for (const std::string& name : b->exe->input_names()) {
    void* p = nullptr;
    if (name == "input_ids") p = b->ids.data();
    else if (name == "position_ids") p = b->positions.data();
    else if (name == "cache_pos") p = cache_pos_.data();
    else if (name == "key_mask") p = key_mask_.data();
    else if (name.rfind("k_cache.", 0) == 0) p = k_.at(std::stoi(name.substr(8))).data();
    else if (name.rfind("v_cache.", 0) == 0) p = v_.at(std::stoi(name.substr(8))).data();
    JITGEN_CHECK(p != nullptr);
    b->ctx.inputs.push_back(p);
  }
  bound_.push_back(std::move(b));
  Bound& bound = *bound_.back();
  // A larger arena or attention scratch moves the buffers every bound plan (and captured graph) points to.
  const bool moved = arena_.reserve(bound.exe->arena_bytes()) |
                     attention_ws_.reserve(std::max<size_t>(bound.exe->attention_workspace_bytes(), 256));
  if (moved) {
    decode_graph_.reset();
    if (loop_) loop_->invalidate();
    last_logits_dev_ = nullptr;  // pointed into the old arena
  }
  rebind_shared_buffers();
  return bound;
}

void CudaStepRunner::rebind_shared_buffers() {
  for (auto& b : bound_) {
    b->ctx.arena = arena_.as<char>();
    b->ctx.gemm_workspace = gemm_ws_.data();
    b->ctx.attention_workspace = attention_ws_.data();
  }
}

void CudaStepRunner::fill_cache_pos(int slot) {
  int32_t* pos = staging_.as<int32_t>() + 2 * rows_;
  std::fill_n(pos, rows_, slot);  // every row writes at the same slot (rows are aligned by left padding)
}

Tensor CudaStepRunner::step(const std::vector<std::vector<int32_t>>& ids,
                            const std::vector<std::vector<int32_t>>& positions,
                            const std::vector<std::vector<int32_t>>& mask_new, bool last_only) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelSpec& c = model_.spec();
  JITGEN_CHECK(static_cast<int>(ids.size()) == rows_ && static_cast<int>(positions.size()) == rows_ &&
               static_cast<int>(mask_new.size()) == rows_);
  const int T = static_cast<int>(ids[0].size());
  if (length_ + T > requested_capacity_)
    throw_limit(fmt::format("KV cache full: {} + {} tokens exceed its capacity {}", length_, T, requested_capacity_));
  int pad = 0;
  if (slots_ == 0) {  // the prefill runs at its length bucket: extra left pads, masked out
    pad = round_up(T, options_.prompt_bucket) - T;
    if (requested_capacity_ + pad > c.max_positions) pad = 0;
    if (capacity_ > 0 && requested_capacity_ + pad > capacity_) pad = 0;  // a reused runner's cache: exact shape
    ensure_cache(pad);
  }
  const int Tp = T + pad;
  // The decode plan is bound first: binding may grow (move) the arena, and the logits of this step must stay
  // where greedy_loop() and decode() expect them.
  if (!decode_) decode_ = &bind(1, true);
  Bound& b = bind(Tp, last_only);

  std::vector<int32_t> hid(static_cast<size_t>(rows_) * Tp, 0), hpos(hid.size(), c.max_positions > 1 ? 1 : 0);
  for (int r = 0; r < rows_; ++r) {
    JITGEN_CHECK(static_cast<int>(ids[r].size()) == T && static_cast<int>(positions[r].size()) == T &&
                 static_cast<int>(mask_new[r].size()) == T);
    for (int t = 0; t < T; ++t) {
      const int32_t id = ids[r][t], pos = positions[r][t];
      if (id < 0 || id >= c.vocab_size)
        throw_invalid_argument(fmt::format("token id {} is outside the vocabulary [0, {})", id, c.vocab_size));
      if (pos < 0 || pos >= c.max_positions)
        throw_limit(fmt::format("position {} is outside the position table (n_positions = {})", pos, c.max_positions));
      hid[static_cast<size_t>(r) * Tp + pad + t] = id;
      hpos[static_cast<size_t>(r) * Tp + pad + t] = pos;
      host_mask_[static_cast<size_t>(r) * capacity_ + slots_ + pad + t] = mask_new[r][t] ? 1 : 0;
    }
  }
  cudaStream_t s = stream_.get();
  fill_cache_pos(slots_);
  JITGEN_CUDA_CHECK(cudaMemcpyAsync(b.ids.data(), hid.data(), hid.size() * 4, cudaMemcpyHostToDevice, s));
  JITGEN_CUDA_CHECK(cudaMemcpyAsync(b.positions.data(), hpos.data(), hpos.size() * 4, cudaMemcpyHostToDevice, s));
  JITGEN_CUDA_CHECK(cudaMemcpyAsync(cache_pos_.data(), staging_.as<int32_t>() + 2 * rows_, 4 * rows_,
                                    cudaMemcpyHostToDevice, s));
  JITGEN_CUDA_CHECK(
      cudaMemcpyAsync(key_mask_.data(), host_mask_.data(), host_mask_.size() * 4, cudaMemcpyHostToDevice, s));
  b.exe->run(b.ctx, s);
  const float* out = b.exe->output(b.ctx);
  const int64_t V = c.vocab_size;
  Tensor logits;
  if (last_only) {
    last_logits_dev_ = out;
    JITGEN_CUDA_CHECK(cudaMemcpyAsync(logits_host_.data(), out, logits_host_.bytes(), cudaMemcpyDeviceToHost, s));
    stream_.synchronize();  // also keeps the pageable hid/hpos/mask copies valid until they are done
    logits = logits_view_;
  } else {
    Tensor all = Tensor::zeros({rows_, Tp, V});
    JITGEN_CUDA_CHECK(cudaMemcpyAsync(all.data(), out, all.nbytes(), cudaMemcpyDeviceToHost, s));
    stream_.synchronize();
    logits = Tensor::zeros({rows_, T, V});
    for (int r = 0; r < rows_; ++r)
      std::memcpy(logits.f32() + static_cast<int64_t>(r) * T * V, all.f32() + (static_cast<int64_t>(r) * Tp + pad) * V,
                  T * V * sizeof(float));
  }
  length_ += T;
  slots_ += Tp;
  stats_.run_ms += ms_since(t0);
  ++stats_.steps;
  return logits;
}

void CudaStepRunner::record_decode(Bound& b) {
  cudaStream_t s = stream_.get();
  const int32_t* staged = staging_.as<int32_t>();
  JITGEN_CUDA_CHECK(cudaMemcpyAsync(b.ids.data(), staged, 4 * rows_, cudaMemcpyHostToDevice, s));
  JITGEN_CUDA_CHECK(cudaMemcpyAsync(b.positions.data(), staged + rows_, 4 * rows_, cudaMemcpyHostToDevice, s));
  JITGEN_CUDA_CHECK(cudaMemcpyAsync(cache_pos_.data(), staged + 2 * rows_, 4 * rows_, cudaMemcpyHostToDevice, s));
  cuda::mark_decode_slot(key_mask_.as<int32_t>(), cache_pos_.as<int32_t>(), rows_, capacity_, s);
  b.exe->run(b.ctx, s);
  JITGEN_CUDA_CHECK(cudaMemcpyAsync(logits_host_.data(), b.exe->output(b.ctx), logits_host_.bytes(),
                                    cudaMemcpyDeviceToHost, s));
}

const Tensor& CudaStepRunner::decode(const int32_t* tokens, const int32_t* positions) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelSpec& c = model_.spec();
  if (length_ + 1 > requested_capacity_)
    throw_limit(fmt::format("KV cache full: {} + 1 tokens exceed its capacity {}", length_, requested_capacity_));
  ensure_cache(0);
  if (!decode_) decode_ = &bind(1, true);
  int32_t* staged = staging_.as<int32_t>();
  for (int b = 0; b < rows_; ++b) {
    if (tokens[b] < 0 || tokens[b] >= c.vocab_size)
      throw_invalid_argument(fmt::format("token id {} is outside the vocabulary [0, {})", tokens[b], c.vocab_size));
    if (positions[b] < 0 || positions[b] >= c.max_positions)
      throw_limit(
          fmt::format("position {} is outside the position table (n_positions = {})", positions[b], c.max_positions));
    staged[b] = tokens[b];
    staged[rows_ + b] = positions[b];
    host_mask_[static_cast<size_t>(b) * capacity_ + slots_] = 1;
  }
  fill_cache_pos(slots_);
  if (options_.graphs && decode_warmed_) {  // captured at the second decode: the first one loaded every kernel
    if (!decode_graph_.ready()) decode_graph_.capture(stream_.get(), [&] { record_decode(*decode_); });
    decode_graph_.launch(stream_.get());
  } else {
    record_decode(*decode_);
    decode_warmed_ = true;
  }
  stream_.synchronize();
  last_logits_dev_ = decode_->exe->output(decode_->ctx);
  ++length_;
  ++slots_;
  stats_.run_ms += ms_since(t0);
  ++stats_.steps;
  return logits_view_;
}

void CudaStepRunner::reset() {
  stream_.synchronize();
  length_ = 0;
  slots_ = 0;
  last_logits_dev_ = nullptr;
  stats_ = {};
  std::fill(host_mask_.begin(), host_mask_.end(), 0);
  if (key_mask_.data()) JITGEN_CUDA_CHECK(cudaMemsetAsync(key_mask_.data(), 0, key_mask_.bytes(), stream_.get()));
}

void CudaStepRunner::warm_up_decode() {
  if (decode_warmed_) return;
  decode_->exe->run(decode_->ctx, stream_.get());
  decode_warmed_ = true;
}

void CudaStepRunner::reorder(const std::vector<int>& src) {
  JITGEN_CHECK(static_cast<int>(src.size()) == rows_);
  for (int s : src) JITGEN_CHECK(s >= 0 && s < rows_);
  // Host mirror first (a later prefill-style step uploads it whole).
  std::vector<int32_t> mask(host_mask_.size());
  for (int r = 0; r < rows_ && capacity_ > 0; ++r)
    std::copy_n(host_mask_.begin() + static_cast<size_t>(src[r]) * capacity_, capacity_,
                mask.begin() + static_cast<size_t>(r) * capacity_);
  host_mask_ = std::move(mask);
  if (capacity_ == 0 || k_.empty()) return;
  cudaStream_t s = stream_.get();
  std::vector<int32_t> rows(src.begin(), src.end());
  reorder_rows_.reserve(4 * rows_);
  reorder_tmp_.reserve(k_[0].bytes());
  JITGEN_CUDA_CHECK(cudaMemcpyAsync(reorder_rows_.data(), rows.data(), 4 * rows_, cudaMemcpyHostToDevice, s));
  auto permute = [&](cuda::DeviceBuffer& buf, size_t bytes) {
    cuda::gather_rows(buf.data(), reorder_tmp_.data(), reorder_rows_.as<int32_t>(), rows_, bytes / rows_, s);
    JITGEN_CUDA_CHECK(cudaMemcpyAsync(buf.data(), reorder_tmp_.data(), bytes, cudaMemcpyDeviceToDevice, s));
  };
  for (auto& k : k_) permute(k, k.bytes());
  for (auto& v : v_) permute(v, v.bytes());
  permute(key_mask_, sizeof(int32_t) * rows_ * capacity_);
  stream_.synchronize();  // `rows` is pageable host memory
}

}  // namespace jitgen
