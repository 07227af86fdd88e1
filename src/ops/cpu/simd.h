#pragma once
// CPU kernels written once over Highway (hwy/highway.h) and compiled for every SIMD target Highway 1.0.3
// attains on this architecture: x86-64 AVX3 (AVX-512 F/BW/DQ/VL), AVX2 (+FMA, F16C), SSE4 and EMU128
// (portable C++, the binary's generic baseline); ARM NEON and EMU128. Each entry point dispatches once per call
// (HWY_DYNAMIC_DISPATCH) and then runs its per-target loop, threaded on the runtime pool. SVE and SSSE3 targets
// are not built (src/ops/CMakeLists.txt says why: the panels keep arrays of vectors, which sizeless SVE vectors
// cannot be; SSSE3-only x86 CPUs predate SSE4.1 and run EMU128). cpu_kernels.cc
// decides per call whether a kernel goes here or to the AVX-512 intrinsics (cpu/avx512.h: the panels, with bf16 dot
// products on AVX512_BF16, and the activation); attention runs here on every target. Shapes use the legend of graph/builder.h; no allocation per call.
// Files: simd.cc (panels, activations, norms), simd_attention.cc, simd_elementwise.cc (add, mul, rope),
// simd_vocab.cc (logits rows); simd-inl.h holds what they share per target.
#include <cstdint>
#include <string>
#include <vector>

#include "graph/builder.h"
#include "ops/cpu_kernels.h"
#include "ops/cpu/panel_epilogue.h"
#include "ops/prepared_weights.h"

namespace jitgen::cpu::simd {

// The SIMD targets compiled into this binary that this CPU can run, best first, by jitgen's names: "avx512",
// "avx2", "sse4", "ssse3", "neon", "sve", "sve2", "emu128" (Highway's AVX3, AVX2, ... in lower case, AVX3 named
// avx512).
std::vector<std::string> runnable_targets();
// Makes `name` the target every kernel dispatches to ("portable" and "scalar" mean the lowest, emu128; "best"
// the best runnable). Returns false, changing nothing, if it is not runnable here. Not for use while kernels
// run on other threads (tests, startup).
bool select_target(const std::string& name);
// The target kernels dispatch to now.
const char* target_name();
bool target_is_avx512();
bool target_is_avx2_or_better();

// y[M, N] = epilogue(x[M, K] @ W) over all of w's panels (fp32 or bf16, prepared_weights.h). bf16 panels read
// the activations as `x_pairs` (bf16_pairs of x); fp32 panels read x.
void gemm_panels(const float* x, const uint32_t* x_pairs, int64_t M, const PackedLinear& w, const PanelEpilogue& e,
                 float* y);
// x[M, K] rounded to bf16 (round to nearest even, NaN kept: f32_to_bf16) as rows of k_stored / 2 k pairs (low half
// = even k), an odd K padded with a zero. out holds M * (k_stored / 2) words.
void bf16_pairs(const float* x, int64_t M, int64_t K, int64_t k_stored, uint32_t* out);
// out = act(x) on n elements (may alias).
void activation(const float* x, float* out, int64_t n, Activation kind);
// x [R, C] -> out [R, C]
void layer_norm(const float* x, const float* gamma, const float* beta, float eps, int64_t R, int64_t C, float* out);
// x [R, C] -> out [R, C] = gamma * (x * rsqrt(mean(x^2) + eps)) (HF LlamaRMSNorm, fp32).
void rms_norm(const float* x, const float* gamma, float eps, int64_t R, int64_t C, float* out);
// out = a + b, out = a * b on n elements (cpu/simd_elementwise.cc; out may alias a or b).
void add(const float* a, const float* b, float* out, int64_t n);
void mul(const float* a, const float* b, float* out, int64_t n);
// cpu::rope's rotation with inv_freq already chosen (cpu/simd_elementwise.cc): x, out [rows, heads * D].
void rope(const float* x, const int32_t* positions, const float* inv_freq, int64_t rows, int64_t heads, int64_t D,
          int64_t rotary, float attention_factor, float* out);
// cpu::row_max, row_argmax, exp_shifted (cpu_kernels.h; cpu/simd_vocab.cc).
float row_max(const float* x, int64_t n);
int64_t row_argmax(const float* x, int64_t n);
double exp_shifted(const float* x, int64_t n, float m, float* out);
// cpu::attention_qkv's contract (cpu_kernels.h), shapes already checked (cpu/simd_attention.cc).
void attention(const AttentionInputs& in, float* k_cache, float* v_cache, const int32_t* cache_pos,
               const int32_t* key_mask, const AttentionShape& s, float scale, float* out);

}  // namespace jitgen::cpu::simd
