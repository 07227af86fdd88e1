#pragma once
// How a one-row (decode) tile reads a thread's panel range: one sequential stream per core does not reach the
// memory's read rate on the CPUs measured (Zen 3: 13-17 GB/s for one stream, 17.5-20 for 2-4 far-apart ones;
// cpu/simd.cc StreamTile), so the range is read as S streams at once. Shared by the fp32 / bf16 panels (simd.cc)
// and the quantized ones (quant_avx2.cc).
#include <cstdint>

namespace jitgen::cpu {

// Splits panels [p0, p1) into S equal parts, read in order side by side: calls visit(ps, live) for i = 0 ..
// ceil((p1 - p0) / S) - 1, with ps[s] = p0 + s * ceil((p1 - p0) / S) + i for the first `live` parts that still
// have an i-th panel (the last part may be shorter, so live < S in its last steps; live >= 1).
template <int S, class Visit>
inline void for_each_stream_group(int64_t p0, int64_t p1, Visit&& visit) {
  static_assert(S >= 1, "at least one stream");
  const int64_t len = (p1 - p0 + S - 1) / S;
  for (int64_t i = 0; i < len; ++i) {
    int64_t ps[S];
    int live = 0;
    for (int s = 0; s < S && p0 + s * len + i < p1; ++s) ps[live++] = p0 + s * len + i;
    visit(static_cast<const int64_t*>(ps), live);
  }
}

}  // namespace jitgen::cpu
