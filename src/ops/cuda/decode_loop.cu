#include "ops/cuda/common.cuh"
#include "ops/cuda/decode_loop.h"

namespace jitgen::cuda {

namespace {

__global__ void greedy_advance_kernel(const int32_t* chosen, GreedyLoopState s, bool after_forward,
                                      cudaGraphConditionalHandle handle) {
  __shared__ int unfinished;
  if (threadIdx.x == 0) unfinished = 0;
  __syncthreads();
  const int step = *s.counter;
  for (int r = threadIdx.x; r < s.rows; r += blockDim.x) {
    int32_t tok = chosen[r];
    if (s.n_eos > 0 && s.finished[r]) tok = s.pad;
    s.ring[static_cast<int64_t>(step) * s.rows + r] = tok;
    bool is_eos = false;
    for (int e = 0; e < s.n_eos; ++e) is_eos = is_eos || tok == s.eos[e];
    if (is_eos) s.finished[r] = 1;
    if (!s.finished[r]) atomicOr(&unfinished, 1);
    if (after_forward) {
      s.positions[r] += 1;
      s.cache_pos[r] += 1;
    }
    s.ids[r] = tok;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    const int emitted = step + 1;
    *s.counter = emitted;
    __threadfence_system();  // the ring rows are visible to the host before the progress count
    *reinterpret_cast<volatile int32_t*>(s.progress) = emitted;
    cudaGraphSetConditional(handle, emitted < s.max_new && unfinished ? 1u : 0u);
  }
}

}  // namespace

void greedy_advance(const int32_t* chosen, const GreedyLoopState& s, bool after_forward,
                    cudaGraphConditionalHandle handle, cudaStream_t st) {
  JITGEN_CHECK(s.rows >= 1 && s.rows <= 1024);
  greedy_advance_kernel<<<1, 1024, 0, st>>>(chosen, s, after_forward, handle);
  JITGEN_CUDA_LAUNCHED();
}

}  // namespace jitgen::cuda
