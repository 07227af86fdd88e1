#pragma once
// CUDA kernels behind the CUDA executable (ops/cuda/cuda_executable.h). Host launchers only: each takes
// device pointers, the storage type of its float tensors and a stream, and never synchronizes or
// allocates, so every one of them can be captured into a CUDA graph. Storage is fp32, fp16 or bf16;
// arithmetic is fp32 everywhere (statistics, softmax, accumulators). Shapes follow graph/builder.h:
// B = batch rows, T = new tokens, S = KV capacity, C = channels, H = heads, D = head dim, V = vocab.
// The CPU oracle for each is ops/reference.h.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace jitgen::cuda {

enum class Storage : uint8_t { kF32, kF16, kBF16 };
size_t storage_bytes(Storage s);
const char* storage_name(Storage s);  // "f32", "f16", "bf16"
Storage parse_storage(const char* name);  // throws kInvalidArgument on anything else

// Same numbering as jitgen::Activation (graph/builder.h); kept apart so .cu files stay free of it.
enum class Act : uint8_t { kGeluTanh, kGeluErf, kRelu, kSilu };

// Host float data -> device storage (weights at upload); device storage -> fp32 (tests, logits).
void upload_converted(Storage s, const float* host, void* device, int64_t n, cudaStream_t stream);
void to_f32(Storage s, const void* in, float* out, int64_t n, cudaStream_t stream);

// out[r, :] = table[ids[r], :]   [V, C], [R] -> [R, C]
void embedding(Storage s, const void* table, const int32_t* ids, int64_t C, int64_t R, void* out, cudaStream_t st);
// out[r, :] = a[ids_a[r], :] + b[ids_b[r], :]  (token + position embeddings)
void embedding_sum(Storage s, const void* table_a, const int32_t* ids_a, const void* table_b, const int32_t* ids_b,
                   int64_t C, int64_t R, void* out, cudaStream_t st);
void add(Storage s, const void* a, const void* b, void* out, int64_t n, cudaStream_t st);
void activation(Storage s, const void* x, void* out, int64_t n, Act act, cudaStream_t st);
// One block per row, two-pass statistics in fp32 registers. x [R, C] -> out [R, C]
void layer_norm(Storage s, const void* x, const void* gamma, const void* beta, float eps, int64_t R, int64_t C,
                void* out, cudaStream_t st);
// [B, T, C] -> [B, 1, C]
void last_position(Storage s, const void* x, int64_t B, int64_t T, int64_t C, void* out, cudaStream_t st);

struct AttentionDims {
  int64_t B, T, S, H, D;
  int64_t KV = 0;      // key/value heads (0 = H); query head h reads KV head h / (H / KV) (GQA, MQA)
  int64_t window = 0;  // > 0: sliding window, a query at slot s sees slots (s - window, s]
  bool grouped = true;  // decode may use the grouped-query kernel (attention_group); false: per-head (tests, timing)
  int64_t kv() const { return KV > 0 ? KV : H; }
};
// Query heads per block of the grouped decode kernel (attention_gqa.cu): H / KV when it applies (a decode step,
// T = 1, with 1 < H / KV <= kMaxAttentionGroup), else 1 (the per-head kernel). Host logic, unit-tested.
constexpr int64_t kMaxAttentionGroup = 16;
int64_t attention_group(const AttentionDims& d);
// JITGEN_CUDA_GQA=0 turns the grouped kernel off in the plans bound afterwards (per-head kernel: the benchmark's
// baseline for issue 16's "each KV head read once per group"); unset or anything else leaves it on.
bool grouped_attention_from_env();
// Shared memory of one grouped block with `chunk_keys` keys (queries, scores, value partials, softmax stats).
size_t attention_grouped_smem_bytes(const AttentionDims& d, int64_t chunk_keys);
// How a query's keys are split between blocks (flash-decoding): decode steps (T = 1) over long caches use
// several key chunks per (row, head) -- per (row, KV head) for the grouped kernel, whose chunks also fit its shared
// memory -- and a combine pass; prefill uses one. Host logic, unit-tested.
struct AttentionSplit {
  int chunks = 1;        // key chunks per (b, h, t)
  int chunk_keys = 0;    // keys per chunk (the last may hold fewer)
};
AttentionSplit attention_split(const AttentionDims& d);
// Scratch the attention needs for its partial results (0 when one chunk suffices).
size_t attention_workspace_bytes(const AttentionDims& d);
// qkv [B, T, 3*H*D]; k_cache, v_cache [B, H, S, D]; cache_pos [B] i32 (row b writes its T new keys at
// slots [cache_pos[b], cache_pos[b] + T) and token t attends to slots [0, cache_pos[b] + t] whose key_mask
// [B, S] entry is 1); out [B, T, H*D]. A query with no visible key yields zeros (as the CPU kernels).
void attention(Storage s, const void* qkv, void* k_cache, void* v_cache, const int32_t* cache_pos,
               const int32_t* key_mask, const AttentionDims& d, float scale, void* out, void* workspace,
               cudaStream_t st);

// Separate projections (Builder::attention_qkv): q [B, T, H*D], k, v [B, T, KV*D], each row `*_stride` elements apart;
// k_cache, v_cache [B, KV, S, D] written at [cache_pos[b], cache_pos[b] + T); out [B, T, H*D]. Same rules as
// attention() plus GQA / MQA and the sliding window (ops/reference.h ref::attention_qkv is the oracle). attention()
// is this with q | k | v packed in one row of 3*H*D.
struct QkvInputs {
  const void *q, *k, *v;
  int64_t q_stride, k_stride, v_stride;
};
void attention_qkv(Storage s, const QkvInputs& in, void* k_cache, void* v_cache, const int32_t* cache_pos,
                   const int32_t* key_mask, const AttentionDims& d, float scale, void* out, void* workspace,
                   cudaStream_t st);

// Llama-family ops (llama_ops.cu); the CPU oracles are ref::rms_norm, ref::mul, ref::rope.
// x [R, C] -> gamma * (x * rsqrt(mean(x^2) + eps)), one block per row, fp32 statistics.
void rms_norm(Storage s, const void* x, const void* gamma, float eps, int64_t R, int64_t C, void* out,
              cudaStream_t st);
void mul(Storage s, const void* a, const void* b, void* out, int64_t n, cudaStream_t st);
// x [rows, heads * D] rotated in HF's rotate_half convention over the first `rotary` dims of each head with
// cos / sin of positions[r] * inv_freq[i] (inv_freq fp32 [rotary / 2], always: frequencies need fp32), scaled by
// attention_factor. dynamic_base > 0: dynamic NTK, inv_freq recomputed on the device from max(positions) + 1 when it
// exceeds original_max (cpu::dynamic_inv_freq's formula).
struct RopeDims {
  int64_t rows, heads, D, rotary;
  float attention_factor = 1.0f;
  float dynamic_base = 0, dynamic_factor = 0;
  int64_t original_max = 0;
};
void rope(Storage s, const void* x, const int32_t* positions, const float* inv_freq, const RopeDims& d, void* out,
          cudaStream_t st);

// key_mask[b, cache_pos[b]] = 1 for every row: the slot a decode step is about to fill.
void mark_decode_slot(int32_t* key_mask, const int32_t* cache_pos, int64_t B, int64_t S, cudaStream_t st);
// dst row r = src row rows[r]; rows are `row_bytes` wide (beam reorder of the KV cache and key mask).
void gather_rows(const void* src, void* dst, const int32_t* rows, int64_t R, int64_t row_bytes, cudaStream_t st);

// Token choice on the device, the same rules as generate/sampling.h: argmax = first maximum, a NaN wins;
// sampling = inverse CDF over softmax(logits / temperature) with the Philox-4x32-10 uniform of
// (seed, step, row). logits [R, V] fp32 -> tokens [R].
void argmax_rows(const float* logits, int64_t R, int64_t V, int32_t* tokens, cudaStream_t st);
void sample_rows(const float* logits, int64_t R, int64_t V, float temperature, uint32_t seed0, uint32_t seed1,
                 uint32_t step, int32_t* tokens, cudaStream_t st);
// The Philox uniforms themselves (tests compare them with the CPU's philox_uniform).
void philox_uniforms(uint32_t seed0, uint32_t seed1, uint32_t step, int64_t R, float* out, cudaStream_t st);

}  // namespace jitgen::cuda
