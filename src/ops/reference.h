#pragma once
// Plain scalar reference kernels: the oracle that tests compare the fast kernels in ops/cpu_kernels.h
// against, and the readable statement of what each op computes. Single-threaded; GEMMs via BLAS.
#include <cstdint>

#include "ops/cpu_kernels.h"

namespace jitgen::ref {

void embedding(const float* table, int64_t vocab, int64_t C, const int32_t* ids, int64_t R, float* out);
void embedding_sum(const float* table_a, int64_t rows_a, const int32_t* ids_a, const float* table_b, int64_t rows_b,
                   const int32_t* ids_b, int64_t C, int64_t R, float* out);
void add(const float* a, const float* b, float* out, int64_t n);
void layer_norm(const float* x, const float* gamma, const float* beta, float eps, int64_t R, int64_t C,
                float* out);
void linear(const float* x, const float* w, const float* bias, int64_t M, int64_t K, int64_t N, float* out);
void linear_transposed(const float* x, const float* w, int64_t M, int64_t K, int64_t N, float* out);
void activation(const float* x, float* out, int64_t n, Activation kind);
void attention(const float* qkv, float* k_cache, float* v_cache, const int32_t* cache_pos, const int32_t* key_mask,
               const cpu::AttentionShape& s, float scale, float* out);
// GQA / MQA / sliding window over separate q, k, v (cpu::attention_qkv's contract).
void attention_qkv(const cpu::AttentionInputs& in, float* k_cache, float* v_cache, const int32_t* cache_pos,
                   const int32_t* key_mask, const cpu::AttentionShape& s, float scale, float* out);
// reference_llama.cc: RMSNorm (sums in double), the elementwise product, rotary embeddings.
void rms_norm(const float* x, const float* gamma, float eps, int64_t R, int64_t C, float* out);
void mul(const float* a, const float* b, float* out, int64_t n);
void rope(const float* x, const int32_t* positions, const float* inv_freq, const cpu::RopeShape& s,
          float attention_factor, const cpu::RopeDynamic& dynamic, float* out);

}  // namespace jitgen::ref
