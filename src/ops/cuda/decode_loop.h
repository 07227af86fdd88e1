#pragma once
// The bookkeeping kernel of the device-side greedy loop (models/cuda_decode_loop.cc): after each token
// choice it applies HF's finished-row rule, appends the tokens to a host-mapped ring (streaming without a
// host round trip), prepares the next decode step's inputs and sets the loop's WHILE condition.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace jitgen::cuda {

struct GreedyLoopState {
  int32_t* ids;         // [R] the next decode step's input tokens
  int32_t* positions;   // [R] their positions
  int32_t* cache_pos;   // [R] their KV write slots
  int32_t* finished;    // [R] 1 once a row produced an eos token
  int32_t* counter;     // [1] tokens emitted per row so far
  const int32_t* eos;   // [n_eos]
  int32_t n_eos;
  int32_t pad;          // written for finished rows (only when n_eos > 0, as HF)
  int32_t rows;
  int32_t max_new;
  int32_t* ring;        // host-mapped [max_new, R]
  int32_t* progress;    // host-mapped [1]: rows of the ring that are complete
};

// chosen [R]: this step's argmax. after_forward: a decode step consumed ids/positions/cache_pos since the
// last call (false for the token chosen from the prefill logits). Sets `handle` to 0 when every row is
// finished or max_new tokens exist, else 1. One block; R <= 1024.
void greedy_advance(const int32_t* chosen, const GreedyLoopState& s, bool after_forward,
                    cudaGraphConditionalHandle handle, cudaStream_t st);

}  // namespace jitgen::cuda
