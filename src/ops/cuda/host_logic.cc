// The host-side decisions of the CUDA kernels (storage types, attention chunking, weight conversion):
// plain C++, unit-tested on machines without a GPU.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/tensor.h"
#include "ops/cuda/kernels.h"
#include "runtime/cuda_runtime.h"

namespace jitgen::cuda {

size_t storage_bytes(Storage s) { return s == Storage::kF32 ? 4 : 2; }

const char* storage_name(Storage s) {
  switch (s) {
    case Storage::kF32: return "f32";
    case Storage::kF16: return "f16";
    case Storage::kBF16: return "bf16";
  }
  return "?";
}

Storage parse_storage(const char* name) {
  const std::string n = name;
  if (n == "f32" || n == "fp32" || n == "float32") return Storage::kF32;
  if (n == "f16" || n == "fp16" || n == "float16") return Storage::kF16;
  if (n == "bf16" || n == "bfloat16") return Storage::kBF16;
  throw_invalid_argument(fmt::format("dtype \"{}\": expected f32, f16 or bf16", n));
}

int64_t attention_group(const AttentionDims& d) {
  const int64_t kv = d.kv(), g = kv > 0 && d.H % kv == 0 ? d.H / kv : 1;
  return d.grouped && d.T == 1 && g > 1 && g <= kMaxAttentionGroup ? g : 1;
}

bool grouped_attention_from_env() {
  const char* e = std::getenv("JITGEN_CUDA_GQA");
  return !(e && std::string(e) == "0");
}

size_t attention_grouped_smem_bytes(const AttentionDims& d, int64_t chunk_keys) {
  const int64_t g = d.H / d.kv(), wide = std::max<int64_t>(d.D, 128);  // 128: the kernel's threads
  return static_cast<size_t>(g * d.D + g * chunk_keys + g * wide + 2 * g) * sizeof(float);
}

AttentionSplit attention_split(const AttentionDims& d) {
  AttentionSplit s;
  if (d.T > 1) {  // prefill: many queries already fill the GPU; one chunk = every key
    s.chunk_keys = static_cast<int>(d.S);
    return s;
  }
  // Decode: enough (row, head, chunk) blocks for every SM of an H100 (132) about twice over, chunks of at
  // least 64 keys so each block still amortizes loading its query. The grouped kernel has one block per KV head.
  const int64_t group = attention_group(d);
  const int64_t heads = d.B * (group > 1 ? d.kv() : d.H);
  const int64_t want_chunks = std::max<int64_t>(1, (264 + heads - 1) / heads);
  int64_t keys = std::max<int64_t>(64, (d.S + want_chunks - 1) / want_chunks);
  if (group > 1) {  // its scores ([group][keys] floats) share 48 KiB of shared memory with queries and partials
    const int64_t fixed = static_cast<int64_t>(attention_grouped_smem_bytes(d, 0));
    keys = std::min<int64_t>(keys, (48 * 1024 - fixed) / (group * static_cast<int64_t>(sizeof(float))));
  }
  s.chunk_keys = static_cast<int>(std::min<int64_t>(keys, d.S));
  s.chunks = static_cast<int>((d.S + s.chunk_keys - 1) / s.chunk_keys);
  return s;
}

size_t attention_workspace_bytes(const AttentionDims& d) {
  const AttentionSplit s = attention_split(d);
  if (s.chunks == 1) return 0;
  return static_cast<size_t>(d.B * d.T * d.H) * s.chunks * (d.D + 2) * sizeof(float);
}

void upload_converted(Storage s, const float* host, void* device, int64_t n, cudaStream_t stream) {
  if (s == Storage::kF32) {
    JITGEN_CUDA_CHECK(cudaMemcpyAsync(device, host, n * sizeof(float), cudaMemcpyHostToDevice, stream));
    JITGEN_CUDA_CHECK(cudaStreamSynchronize(stream));
    return;
  }
  std::vector<uint16_t> half(n);
  for (int64_t i = 0; i < n; ++i) half[i] = s == Storage::kF16 ? f32_to_f16(host[i]) : f32_to_bf16(host[i]);
  JITGEN_CUDA_CHECK(cudaMemcpyAsync(device, half.data(), n * sizeof(uint16_t), cudaMemcpyHostToDevice, stream));
  JITGEN_CUDA_CHECK(cudaStreamSynchronize(stream));  // `half` dies here
}

}  // namespace jitgen::cuda
