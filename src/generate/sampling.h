#pragma once
// Token choice: greedy argmax and seeded multinomial sampling with a counter-based RNG.
//
// RNG scheme (DESIGN.md §4), identical on every device:
//   Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11; Random123).
//   key     = (seed[0], seed[1])                       -- HF's `seed=(a, b)` words
//   counter = (step, row, draw, 0)                     -- step: 0-based decode step (new-token index),
//                                                         row: flat row in the batch (b * num_beams + beam, or
//                                                         b * num_return_sequences + r), draw: 0 for the single
//                                                         draw of plain sampling; d-th draw for beam sampling.
//   uniform = (out[0] >> 8) * 2^-24                    -- first 32-bit output word, top 24 bits: an exact float
//                                                         in [0, 1) (every value representable in fp32).
// Sampling is by inverse CDF over softmax(processed logits) in token-id order:
//   m = max_i l_i;  w_i = exp(l_i - m) (fp32, 0 for -inf; ops/cpu_kernels.h exp_shifted: a vector exp within an ulp
//   or two of expf);  S = sum_i w_i (fp64, in exp_shifted's fixed order);
//   token = the first i with  sum_{j<=i} w_j (fp64, id order)  >  u * S;  if rounding leaves none, the last
//   i with w_i > 0.
// This does not reproduce torch.multinomial's stream (nothing can without torch's generator); it gives the same
// tokens for the same seed in eager and compiled mode and on CPU and GPU.
#include <array>
#include <cstdint>

namespace jitgen::decoding {

using PhiloxCounter = std::array<uint32_t, 4>;
using PhiloxKey = std::array<uint32_t, 2>;

// Philox-4x32 with 10 rounds (the Random123 default), bit-exact to the published known-answer vectors.
std::array<uint32_t, 4> philox4x32_10(PhiloxCounter counter, PhiloxKey key);

// The uniform in [0, 1) for (step, row, draw) under `seed` (scheme above).
float philox_uniform(const uint32_t seed[2], uint32_t step, uint32_t row, uint32_t draw = 0);

// torch.argmax semantics over one row: index of the first maximum; a NaN counts as the maximum (first NaN wins).
int32_t argmax_row(const float* logits, int V);

// Inverse-CDF draw from softmax(logits) with uniform `u` in [0, 1). logits: [V], may contain -inf (never chosen
// unless every entry is -inf, then returns the argmax, i.e. 0).
int32_t sample_row(const float* logits, int V, float u);

// Beam sampling (do_sample with num_beams > 1): `k` draws without replacement from softmax(scores) over `n`
// candidates, draw d using uniform (step, row, d); each drawn candidate is removed before the next draw.
// Writes k distinct indices to `out`. `weights` is caller scratch of n doubles. Requires k <= number of
// candidates with non-zero probability + (candidates with zero weight are drawn last in index order).
void sample_without_replacement(const float* scores, int n, int k, const uint32_t seed[2], uint32_t step,
                                uint32_t row, double* weights, int32_t* out);

}  // namespace jitgen::decoding
