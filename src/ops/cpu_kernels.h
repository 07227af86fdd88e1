#pragma once
// CPU fp32 kernels behind the eager builder (and, later, bound by compiled executables). Plain,
// row-major, no allocation; GEMMs go to BLAS. Shapes in comments use the legend of graph/builder.h.
#include <cstdint>

#include "graph/builder.h"

namespace jitgen::cpu {

// out[r, :] = table[ids[r], :]; ids checked against rows by the caller. [R] ids, [V, C] -> [R, C]
void embedding(const float* table, int64_t vocab, int64_t C, const int32_t* ids, int64_t R, float* out);
// out[r, :] = table_a[ids_a[r], :] + table_b[ids_b[r], :] (token + position embeddings in one pass)
void embedding_sum(const float* table_a, int64_t rows_a, const int32_t* ids_a, const float* table_b, int64_t rows_b,
                   const int32_t* ids_b, int64_t C, int64_t R, float* out);
void add(const float* a, const float* b, float* out, int64_t n);
// x [R, C] -> out [R, C]
void layer_norm(const float* x, const float* gamma, const float* beta, float eps, int64_t R, int64_t C,
                float* out);
// x [M, K] @ w [K, N] + bias [N] -> out [M, N]; bias may be null.
void linear(const float* x, const float* w, const float* bias, int64_t M, int64_t K, int64_t N, float* out);
// x [M, K] @ w [N, K]^T -> out [M, N]
void linear_transposed(const float* x, const float* w, int64_t M, int64_t K, int64_t N, float* out);
void activation(const float* x, float* out, int64_t n, Activation kind);

struct AttentionShape {
  int64_t B, T, S, H, D;
};
// qkv [B, T, 3*H*D]; k_cache, v_cache [B, H, S, D]; key_mask [B, S] (i32 1/0); out [B, T, H*D].
void attention(const float* qkv, float* k_cache, float* v_cache, int32_t cache_pos, const int32_t* key_mask,
               const AttentionShape& s, float scale, float* out);

}  // namespace jitgen::cpu
