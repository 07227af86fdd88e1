#pragma once
// What the attention kernel over the KV cache (cpu/simd_attention.cc, compiled once per SIMD target) does the same on
// every target. Defined out of line in attention_common.cc, which is built for the baseline: an inline copy compiled
// for one target (AVX-512 flags) could be the copy the linker keeps for every caller.
#include <cstdint>

namespace jitgen::cpu {

// The step's T new key and value rows of batch row b, KV head kv into their cache slots [pos, pos + T) of that head's
// caches kh, vh [S, D]. Token (b, t)'s key row starts at k_in + (b * T + t) * k_stride, the head's D floats at
// kv * D within it; values likewise.
void append_kv_rows(const float* k_in, const float* v_in, int64_t k_stride, int64_t v_stride, int64_t b, int64_t kv,
                    int64_t T, int64_t D, int64_t pos, float* kh, float* vh);

}  // namespace jitgen::cpu
