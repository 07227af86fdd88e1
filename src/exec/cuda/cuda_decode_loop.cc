#include "exec/cuda/cuda_decode_loop.h"

#include <algorithm>

#include <fmt/format.h>

#include "exec/cuda/cuda_step_runner.h"
#include "models/model_impl.h"
#include "ops/cuda/cuda_executable.h"

namespace jitgen {

CudaDecodeLoop::CudaDecodeLoop(int rows_, int64_t vocab) : rows(rows_) {
  first_logits.reserve(sizeof(float) * rows * vocab);
  chosen.reserve(4 * rows);
  finished.reserve(4 * rows);
  counter.reserve(4);
  progress = cuda::PinnedBuffer(sizeof(int32_t), true);
}

void CudaDecodeLoop::prepare(CudaStepRunner& runner, const Key& key) {
  if (graph.ready() && built == key) return;
  graph.reset();
  const int R = rows;
  const int64_t V = runner.model_.spec().vocab_size;
  if (ring.bytes() < sizeof(int32_t) * R * key.max_new)
    ring = cuda::PinnedBuffer(sizeof(int32_t) * R * key.max_new, true);
  eos.reserve(sizeof(int32_t) * std::max<size_t>(1, key.eos.size()));
  if (!key.eos.empty())
    JITGEN_CUDA_CHECK(cudaMemcpy(eos.data(), key.eos.data(), 4 * key.eos.size(), cudaMemcpyHostToDevice));
  auto& dec = *runner.decode_;
  state = cuda::GreedyLoopState{dec.ids.as<int32_t>(),
                                dec.positions.as<int32_t>(),
                                runner.cache_pos_.as<int32_t>(),
                                finished.as<int32_t>(),
                                counter.as<int32_t>(),
                                eos.as<int32_t>(),
                                static_cast<int32_t>(key.eos.size()),
                                key.pad,
                                R,
                                key.max_new,
                                static_cast<int32_t*>(ring.device_alias()),
                                static_cast<int32_t*>(progress.device_alias())};

  cudaStream_t s = runner.stream_.get();
  cudaGraph_t g = nullptr;
  JITGEN_CUDA_CHECK(cudaGraphCreate(&g, 0));
  try {
    cudaGraphConditionalHandle cond;
    // Default 0 at every launch; the first advance sets it before the WHILE node looks at it.
    JITGEN_CUDA_CHECK(cudaGraphConditionalHandleCreate(&cond, g, 0, cudaGraphCondAssignDefault));
    JITGEN_CUDA_CHECK(cudaStreamBeginCaptureToGraph(s, g, nullptr, nullptr, 0, cudaStreamCaptureModeThreadLocal));
    cuda::argmax_rows(first_logits.as<float>(), R, V, chosen.as<int32_t>(), s);
    cuda::greedy_advance(chosen.as<int32_t>(), state, false, cond, s);
    cudaStreamCaptureStatus status;
    cudaGraph_t capturing = nullptr;
    const cudaGraphNode_t* deps = nullptr;
    size_t n_deps = 0;
    cudaGraphNodeParams params{};
    params.type = cudaGraphNodeTypeConditional;
    params.conditional.handle = cond;
    params.conditional.type = cudaGraphCondTypeWhile;
    params.conditional.size = 1;
    cudaGraphNode_t loop_node;
#if CUDART_VERSION >= 13000  // CUDA 13 folded the edge-data (_v2/_v3) variants into these names
    JITGEN_CUDA_CHECK(cudaStreamGetCaptureInfo(s, &status, nullptr, &capturing, &deps, nullptr, &n_deps));
    JITGEN_CUDA_CHECK(cudaGraphAddNode(&loop_node, capturing, deps, nullptr, n_deps, &params));
    JITGEN_CUDA_CHECK(cudaStreamUpdateCaptureDependencies(s, &loop_node, nullptr, 1, cudaStreamSetCaptureDependencies));
#else
    JITGEN_CUDA_CHECK(cudaStreamGetCaptureInfo(s, &status, nullptr, &capturing, &deps, &n_deps));
    JITGEN_CUDA_CHECK(cudaGraphAddNode(&loop_node, capturing, deps, n_deps, &params));
    JITGEN_CUDA_CHECK(cudaStreamUpdateCaptureDependencies(s, &loop_node, 1, cudaStreamSetCaptureDependencies));
#endif
    JITGEN_CUDA_CHECK(cudaStreamEndCapture(s, &g));

    cudaGraph_t body = params.conditional.phGraph_out[0];
    JITGEN_CUDA_CHECK(cudaStreamBeginCaptureToGraph(s, body, nullptr, nullptr, 0, cudaStreamCaptureModeThreadLocal));
    cuda::mark_decode_slot(runner.key_mask_.as<int32_t>(), runner.cache_pos_.as<int32_t>(), R, runner.capacity_, s);
    dec.exe->run(dec.ctx, s);
    cuda::argmax_rows(dec.exe->output(dec.ctx), R, V, chosen.as<int32_t>(), s);
    cuda::greedy_advance(chosen.as<int32_t>(), state, true, cond, s);
    JITGEN_CUDA_CHECK(cudaStreamEndCapture(s, &body));
  } catch (...) {
    cudaStreamCaptureStatus status;
    if (cudaStreamIsCapturing(s, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
      cudaGraph_t broken = nullptr;
      cudaStreamEndCapture(s, &broken);
    }
    cudaGetLastError();
    cudaGraphDestroy(g);
    throw;
  }
  graph.adopt(g);
  built = key;
}

GreedyLoopResult CudaStepRunner::greedy_loop(const std::vector<int32_t>& next_positions,
                                             const GreedyLoopOptions& o) {
  const ModelSpec& c = model_.spec();
  const int R = rows_;
  JITGEN_CHECK(static_cast<int>(next_positions.size()) == R && last_logits_dev_ != nullptr);
  if (o.max_new_tokens < 1) throw_invalid_argument("greedy_loop: max_new_tokens must be at least 1");
  if (length_ + o.max_new_tokens - 1 > requested_capacity_)
    throw_limit(fmt::format("KV cache full: {} + {} tokens exceed its capacity {}", length_, o.max_new_tokens - 1,
                            requested_capacity_));
  for (int32_t p : next_positions)
    if (p < 0 || p + o.max_new_tokens - 1 > c.max_positions)
      throw_limit(fmt::format("position {} is outside the position table (n_positions = {})",
                              p + o.max_new_tokens - 1, c.max_positions));
  ensure_cache(0);
  if (!decode_) decode_ = &bind(1, true);
  JITGEN_CHECK(last_logits_dev_ != nullptr);  // step() binds the decode plan first: its logits never move
  GreedyLoopResult result;
  result.tokens.assign(R, {});
  cudaStream_t s = stream_.get();
  const int first_slot = slots_;

  const float* first_logits = last_logits_dev_;
  bool one_graph = o.one_graph && options_.graphs && R <= 1024;
  int32_t* staged = staging_.as<int32_t>();
  if (one_graph) {
    if (!loop_) loop_ = std::make_unique<CudaDecodeLoop>(R, c.vocab_size);
    // The decode plan's warm-up below reuses the arena that holds the prefill logits: copy them out first.
    JITGEN_CUDA_CHECK(cudaMemcpyAsync(loop_->first_logits.data(), last_logits_dev_, sizeof(float) * R * c.vocab_size,
                                      cudaMemcpyDeviceToDevice, s));
    first_logits = loop_->first_logits.as<float>();
    std::copy(next_positions.begin(), next_positions.end(), staged + R);
    fill_cache_pos(slots_);
    JITGEN_CUDA_CHECK(cudaMemcpyAsync(decode_->positions.data(), staged + R, 4 * R, cudaMemcpyHostToDevice, s));
    JITGEN_CUDA_CHECK(cudaMemcpyAsync(cache_pos_.data(), staged + 2 * R, 4 * R, cudaMemcpyHostToDevice, s));
    warm_up_decode();
    try {
      loop_->prepare(*this, CudaDecodeLoop::Key{o.max_new_tokens, o.eos, o.pad});
    } catch (const Error&) {
      one_graph = false;  // no conditional nodes here: one graph launch per step below
    }
  }
  if (one_graph) {
    CudaDecodeLoop& L = *loop_;
    JITGEN_CUDA_CHECK(cudaMemsetAsync(L.finished.data(), 0, 4 * R, s));
    JITGEN_CUDA_CHECK(cudaMemsetAsync(L.counter.data(), 0, 4, s));
    volatile int32_t* progress = L.progress.as<int32_t>();
    *progress = 0;
    L.graph.launch(s);
    int delivered = 0;
    const int32_t* ring = L.ring.as<int32_t>();
    for (bool done = false; !done;) {
      if (o.on_step) {
        const cudaError_t q = cudaStreamQuery(s);
        if (q != cudaErrorNotReady) JITGEN_CUDA_CHECK(q);
        done = q == cudaSuccess;
      } else {
        stream_.synchronize();
        done = true;
      }
      const int ready = *progress;
      for (; delivered < ready; ++delivered)
        if (o.on_step) o.on_step(delivered, ring + static_cast<int64_t>(delivered) * R);
    }
    result.steps = *progress;
    for (int t = 0; t < result.steps; ++t)
      for (int r = 0; r < R; ++r) result.tokens[r].push_back(ring[static_cast<int64_t>(t) * R + r]);
    result.one_graph = true;
    const int forwards = result.steps - 1;
    for (int r = 0; r < R; ++r)
      std::fill_n(host_mask_.begin() + static_cast<size_t>(r) * capacity_ + first_slot, forwards, 1);
    length_ += forwards;
    slots_ += forwards;
    stats_.steps += forwards;
    if (forwards > 0) last_logits_dev_ = decode_->exe->output(decode_->ctx);
    return result;
  }

  // Per-step: argmax on the device, HF's rules on the host, one decode() (a graph replay) per token.
  cuda::DeviceBuffer chosen(4 * R);
  std::vector<int32_t> tok(R), pos = next_positions;
  std::vector<uint8_t> finished(R, 0);
  for (int step = 0;; ++step) {
    cuda::argmax_rows(step == 0 ? first_logits : last_logits_dev_, R, c.vocab_size, chosen.as<int32_t>(), s);
    JITGEN_CUDA_CHECK(cudaMemcpyAsync(tok.data(), chosen.data(), 4 * R, cudaMemcpyDeviceToHost, s));
    stream_.synchronize();
    bool any = false;
    for (int r = 0; r < R; ++r) {
      if (!o.eos.empty() && finished[r]) tok[r] = o.pad;
      if (std::find(o.eos.begin(), o.eos.end(), tok[r]) != o.eos.end()) finished[r] = 1;
      any = any || !finished[r];
      result.tokens[r].push_back(tok[r]);
    }
    if (o.on_step) o.on_step(step, tok.data());
    result.steps = step + 1;
    if (result.steps >= o.max_new_tokens || !any) break;
    decode(tok.data(), pos.data());
    for (int32_t& p : pos) ++p;
  }
  return result;
}

}  // namespace jitgen
