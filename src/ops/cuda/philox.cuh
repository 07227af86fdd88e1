#pragma once
// Philox-4x32-10 on the device: the scheme of generate/sampling.h, word for word (key = seed words, counter =
// (step, row, draw, 0), uniform = top 24 bits of the first output word * 2^-24), so a GPU sampler draws the
// same uniform as the CPU for every (seed, step, row).
#include <cstdint>

namespace jitgen::cuda {

__host__ __device__ inline float philox_uniform_dev(uint32_t seed0, uint32_t seed1, uint32_t step, uint32_t row,
                                                    uint32_t draw) {
  uint32_t c0 = step, c1 = row, c2 = draw, c3 = 0, k0 = seed0, k1 = seed1;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return static_cast<float>(c0 >> 8) * 0x1.0p-24f;
}

}  // namespace jitgen::cuda
