#pragma once
// The greedy decode loop as one CUDA graph (CudaStepRunner::greedy_loop):
//
//   [argmax(prefill logits)] -> [advance] -> WHILE(cond) { [mark slot] [decode step kernels] [argmax] [advance] }
//
// `advance` (ops/cuda/decode_loop.h) applies HF's finished-row rule, appends the tokens to a host-mapped ring,
// feeds them to the next step and sets the WHILE condition to 0 once every row hit an eos token or
// max_new_tokens exist. The host launches the graph once and, for streaming, polls the ring's progress
// counter while it runs. Needs CUDA >= 12.4 (conditional nodes, cudaStreamBeginCaptureToGraph).
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "ops/cuda/decode_loop.h"
#include "runtime/cuda_runtime.h"

namespace jitgen {

class CudaStepRunner;
struct GreedyLoopOptions;

struct CudaDecodeLoop {
  // What the captured graph was built for; any change rebuilds it.
  struct Key {
    int max_new = 0;
    std::vector<int32_t> eos;
    int32_t pad = 0;
    bool operator==(const Key&) const = default;
  };

  CudaDecodeLoop(int rows, int64_t vocab);
  // Builds (or reuses) the graph for `key` on `runner`'s buffers. Throws when the driver cannot build a
  // conditional graph; greedy_loop then falls back to one graph launch per step.
  void prepare(CudaStepRunner& runner, const Key& key);
  void invalidate() { graph.reset(); }
  int64_t launches() const { return graph.launches(); }

  int rows;
  Key built;
  cuda::CapturedGraph graph;
  cuda::DeviceBuffer chosen, finished, counter, eos;  // [R], [R], [1], [n_eos]
  cuda::DeviceBuffer first_logits;                    // [R, V] fp32: the prefill's logits, copied out of the arena
  cuda::PinnedBuffer ring, progress;                  // host-mapped
  cuda::GreedyLoopState state{};
};

}  // namespace jitgen
