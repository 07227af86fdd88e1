#pragma once
// CPU fp32 kernels behind the eager builder and bound by compiled executables. Row-major, no
// allocation on the hot path, threaded on the one runtime pool. Each dispatches once per call to the selected
// SIMD target (simd_name below); ops/reference.h holds the scalar oracle.
// Linear layers use the panels prepared at load (ops/prepared_weights.h) for small M (decode) and
// BLAS, split by columns over the pool, for large M (prefill). Shapes follow graph/builder.h.
#include <cstdint>
#include <string>
#include <vector>

#include "graph/builder.h"

namespace jitgen::cpu {

// out[r, :] = table[ids[r], :]; ids checked against rows by the caller. [R] ids, [V, C] -> [R, C]. A tied table
// released with its lm_head (its address then holds nothing) reads the rows from the lm_head's panels, exactly.
void embedding(const float* table, int64_t vocab, int64_t C, const int32_t* ids, int64_t R, float* out);
// out[r, :] = table_a[ids_a[r], :] + table_b[ids_b[r], :] (token + position embeddings in one pass)
void embedding_sum(const float* table_a, int64_t rows_a, const int32_t* ids_a, const float* table_b, int64_t rows_b,
                   const int32_t* ids_b, int64_t C, int64_t R, float* out);
void add(const float* a, const float* b, float* out, int64_t n);
// x [R, C] -> out [R, C]
void layer_norm(const float* x, const float* gamma, const float* beta, float eps, int64_t R, int64_t C,
                float* out);

// What a linear layer applies to its output tile while it is still in registers.
struct LinearEpilogue {
  bool has_act = false;
  Activation act = Activation::kGeluTanh;
  const float* residual = nullptr;  // [M, N] added after the activation; may alias out
};
// x [M, K] @ w [K, N] + bias [N] -> out [M, N]; bias may be null.
void linear(const float* x, const float* w, const float* bias, int64_t M, int64_t K, int64_t N, float* out,
            const LinearEpilogue& epilogue = {});
// x [M, K] @ w [N, K]^T -> out [M, N]
void linear_transposed(const float* x, const float* w, int64_t M, int64_t K, int64_t N, float* out);
void activation(const float* x, float* out, int64_t n, Activation kind);

// H query heads share KV = H / G key/value heads (G = 1: multi-head, KV = 1: multi-query). window > 0: a query at
// slot s attends only to slots (s - window, s] (HF's sliding_window_overlay: kv_idx > q_idx - window).
struct AttentionShape {
  int64_t B, T, S, H, D;
  int64_t KV = 0;      // 0 = H
  int64_t window = 0;  // 0 = full causal attention
  int64_t kv() const { return KV > 0 ? KV : H; }
};
// Where the step's new q, k, v rows are: token (b, t) has q at q + (b*T + t) * q_stride ([H, D]), k and v likewise
// ([KV, D]). Packed GPT-2 qkv is q = qkv, k = qkv + C, v = qkv + 2C with strides 3C.
struct AttentionInputs {
  const float *q, *k, *v;
  int64_t q_stride, k_stride, v_stride;
};
// qkv [B, T, 3*H*D]; k_cache, v_cache [B, H, S, D]; key_mask [B, S] (i32 1/0); out [B, T, H*D].
void attention(const float* qkv, float* k_cache, float* v_cache, const int32_t* cache_pos, const int32_t* key_mask,
               const AttentionShape& s, float scale, float* out);
// Separate q [B, T, H*D], k, v [B, T, KV*D] (any row strides); k_cache, v_cache [B, KV, S, D]; out [B, T, H*D]. Each
// (row, KV head) is one task: its new K/V rows are written once, then its G query heads attend while it is hot.
void attention_qkv(const AttentionInputs& in, float* k_cache, float* v_cache, const int32_t* cache_pos,
                   const int32_t* key_mask, const AttentionShape& s, float scale, float* out);

// Llama-family ops, Highway kernels: RMSNorm (cpu/simd.cc), mul and rope (cpu/simd_elementwise.cc).
// x [R, C] -> x * rsqrt(mean(x^2) + eps) * gamma (HF LlamaRMSNorm, fp32 throughout).
void rms_norm(const float* x, const float* gamma, float eps, int64_t R, int64_t C, float* out);
// out = a * b elementwise (the gated MLP's act(gate) * up).
void mul(const float* a, const float* b, float* out, int64_t n);
// Rotary embeddings, HF's rotate_half convention: for each of `heads` heads of D dims in a row, dims [0, rotary)
// rotate as pairs (i, i + rotary/2) by angle position * inv_freq[i] (cos/sin scaled by attention_factor); dims
// [rotary, D) pass through. x, out [rows, heads*D]; positions [rows] i32; inv_freq [rotary/2].
struct RopeShape {
  int64_t rows, heads, D, rotary;
};
// Dynamic NTK (rope_type "dynamic"): when max(positions) + 1 exceeds original_max, inv_freq is recomputed from a
// grown base (HF dynamic_rope_update + _compute_dynamic_ntk_parameters). base = 0: static inv_freq.
struct RopeDynamic {
  float base = 0, factor = 0;
  int64_t original_max = 0;
};
void rope(const float* x, const int32_t* positions, const float* inv_freq, const RopeShape& s, float attention_factor,
          const RopeDynamic& dynamic, float* out);
// The inv_freq a dynamic rope uses at seq_len (HF _compute_dynamic_ntk_parameters, in fp32 like torch): [rotary/2].
void dynamic_inv_freq(const RopeDynamic& d, int64_t rotary, int64_t seq_len, float* inv_freq);

// One row of V logits, for token choice and the logits processors (generate/), Highway kernels (cpu/simd_vocab.cc),
// single-threaded. row_max: the largest non-NaN entry (-inf if none); exact. row_argmax: torch.argmax, the first NaN
// if any, else the first maximum (0 for an all -inf row); exact. exp_shifted: out[i] = exp(x[i] - m) by a vector
// exp (within an ulp or two of expf; exactly 0 at -inf, NaN kept; an FMA target may differ from a non-FMA one in the
// last bit), returning their fp64 sum taken in a fixed order (8 interleaved partial sums, then pairwise), the same
// whatever the vector width. out may alias x.
float row_max(const float* x, int64_t n);
int64_t row_argmax(const float* x, int64_t n);
double exp_shifted(const float* x, int64_t n, float m, float* out);

// Beam reorder of a [B, ..., S, X] state in place (KV cache [B, H, S, D], key mask [B, S]): row r becomes old row
// src[r], moving only slots [0, filled) of the slot axis (dim 2 of 4-d, dim 1 of 2-d). scratch: nbytes of the state.
void gather_rows(char* data, const Shape& shape, size_t item_bytes, int64_t filled, const int32_t* src, char* scratch);

// The SIMD target the kernels run on (cpu/simd.h): "avx512", "avx2", "sse4", "ssse3", "neon", "emu128" (the
// portable one). At start the best this CPU runs, or JITGEN_SIMD=<name> ("portable": the lowest; a name this CPU
// cannot run warns on stderr and keeps the best). On avx512 the linear panels and the activation use the AVX-512
// intrinsics (cpu/avx512.h); every other kernel (attention too), and every other target, the Highway kernels.
const char* simd_name();
// Targets this binary and CPU can run, best first; set_simd selects one (false: not runnable, nothing changed).
// Tests use these to run every kernel on every target; not for use while kernels run.
std::vector<std::string> simd_targets();
bool set_simd(const std::string& name);
// Rows up to which linear layers use the prepared panels instead of BLAS (default: every M on avx512 and avx2, 64
// on the other targets; JITGEN_PANEL_MAX_M). bf16 storage always takes the panels.
int64_t panel_max_m();
void set_panel_max_m(int64_t m);
// Rows up to which fp32 linears take the panels on the selected target: panel_max_m(), at most 64 below avx2. Past it
// they run on BLAS, whose result for a row depends on how many rows there are (not batch invariant).
int64_t fp32_panel_rows();

}  // namespace jitgen::cpu
