#include "exec/kv_cache.h"

#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "core/memory.h"
#include "ops/cpu_kernels.h"

namespace jitgen {

void check_request(const ModelSpec& c, int rows, int capacity) {
  if (rows < 1) throw_invalid_argument("the batch is empty");
  if (capacity > c.max_positions)
    throw_limit(fmt::format("prompt + new tokens = {} exceeds the model's position table (n_positions = {})",
                            capacity, c.max_positions));
  // The whole cache at once, before any allocation: each layer's tensors may fit while all of them do not.
  static const double ram = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
  const double bytes = 2.0 * c.n_layer * rows * static_cast<double>(capacity) * c.kv_width() * sizeof(float);
  if (ram > 0 && bytes > 0.8 * ram)
    throw_limit(fmt::format("out of memory: the KV cache for {} rows x {} positions needs {:.1f} GiB, more than 80% "
                            "of this machine's {:.1f} GiB; use a smaller batch or fewer new tokens",
                            rows, capacity, bytes / (1 << 30), ram / (1 << 30)));
}

namespace {

// Every layer's K and V [rows, KV, capacity, D] as views into one zeroed buffer, in the order a step reads them
// (layer 0's K, its V, layer 1's K, ...). Why one buffer: from 2 MiB up it is a huge-page mapping (core/memory.h),
// and decode attention reads the cache in short runs (a few KiB per KV head) between the layers' weights, which
// evict it: on 4 KiB pages every run began with a TLB miss and a prefetcher that stops at each page boundary.
void allocate_layers(const ModelSpec& c, int rows, int capacity, std::vector<Tensor>& k, std::vector<Tensor>& v) {
  const Shape shape{rows, c.n_kv_head, capacity, c.head_dim};
  const size_t one = (static_cast<size_t>(shape_numel(shape)) * sizeof(float) + 63) / 64 * 64;
  std::shared_ptr<void> buffer = zeroed_buffer(std::max<size_t>(2 * one * c.n_layer, 1));
  if (!buffer)
    throw_limit(fmt::format("out of memory allocating the KV cache ({} rows x {} positions)", rows, capacity));
  char* p = static_cast<char*>(buffer.get());
  k.clear();
  v.clear();
  for (int l = 0; l < c.n_layer; ++l, p += 2 * one) {
    k.push_back(Tensor::view(p, shape, DType::kF32, buffer));
    v.push_back(Tensor::view(p + one, shape, DType::kF32, buffer));
  }
}

}  // namespace

KvCache::KvCache(const ModelSpec& c, int rows_, int capacity_) : config(c), rows(rows_), capacity(capacity_) {
  check_request(c, rows, capacity);
  allocate_layers(c, rows, capacity, k, v);
  key_mask = Tensor::zeros({rows, capacity}, DType::kI32);
}

void KvCache::reorder(const std::vector<int>& src) {
  JITGEN_CHECK(static_cast<int>(src.size()) == rows);
  // The same gather the traced beam step runs (reorder_rows), over every slot; it checks the source rows.
  std::vector<char> scratch(k.empty() ? key_mask.nbytes() : k[0].nbytes());
  auto permute_rows = [&](Tensor& t) {
    cpu::gather_rows(static_cast<char*>(t.data()), t.shape(), dtype_size(t.dtype()), capacity, src.data(),
                     scratch.data());
  };
  for (auto& t : k) permute_rows(t);
  for (auto& t : v) permute_rows(t);
  permute_rows(key_mask);
}

void KvCache::grow_to(int new_capacity) {
  JITGEN_CHECK(new_capacity >= capacity);
  check_request(config, rows, new_capacity);
  // Copies each [capacity, inner] run of slots into the start of the new [new_capacity, inner] run.
  auto copy_slots = [&](const Tensor& from, Tensor& to, int64_t outer, int64_t inner) {
    const size_t old_run = static_cast<size_t>(capacity) * inner * dtype_size(from.dtype());
    const size_t new_run = static_cast<size_t>(new_capacity) * inner * dtype_size(from.dtype());
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(static_cast<char*>(to.data()) + o * new_run, static_cast<const char*>(from.data()) + o * old_run,
                  old_run);
  };
  std::vector<Tensor> new_k, new_v;
  allocate_layers(config, rows, new_capacity, new_k, new_v);
  const int64_t heads = static_cast<int64_t>(rows) * config.n_kv_head;
  for (size_t l = 0; l < k.size(); ++l) {
    copy_slots(k[l], new_k[l], heads, config.head_dim);
    copy_slots(v[l], new_v[l], heads, config.head_dim);
  }
  Tensor new_mask = Tensor::zeros({rows, new_capacity}, DType::kI32);
  copy_slots(key_mask, new_mask, rows, 1);
  k = std::move(new_k);
  v = std::move(new_v);
  key_mask = std::move(new_mask);
  capacity = new_capacity;
}

PackedStep pack_step(const ModelSpec& c, KvCache& cache, int length,
                     const std::vector<std::vector<int32_t>>& ids, const std::vector<std::vector<int32_t>>& positions,
                     const std::vector<std::vector<int32_t>>& mask_new) {
  const int B = cache.rows;
  JITGEN_CHECK(static_cast<int>(ids.size()) == B && static_cast<int>(positions.size()) == B &&
               static_cast<int>(mask_new.size()) == B);
  const int T = static_cast<int>(ids[0].size());
  if (length + T > cache.capacity)
    throw_limit(fmt::format("KV cache full: {} + {} tokens exceed its capacity {}", length, T, cache.capacity));
  PackedStep p{Tensor::zeros({B, T}, DType::kI32), Tensor::zeros({B, T}, DType::kI32)};
  for (int b = 0; b < B; ++b) {
    JITGEN_CHECK(static_cast<int>(ids[b].size()) == T && static_cast<int>(positions[b].size()) == T &&
                 static_cast<int>(mask_new[b].size()) == T);
    for (int t = 0; t < T; ++t) {
      const int32_t id = ids[b][t], pos = positions[b][t];
      if (id < 0 || id >= c.vocab_size)
        throw_invalid_argument(fmt::format("token id {} is outside the vocabulary [0, {})", id, c.vocab_size));
      if (pos < 0 || pos >= c.max_positions)
        throw_limit(fmt::format("position {} is outside the position table (n_positions = {})", pos, c.max_positions));
      p.ids.i32()[b * T + t] = id;
      p.positions.i32()[b * T + t] = pos;
      cache.key_mask.i32()[b * cache.capacity + length + t] = mask_new[b][t] ? 1 : 0;
    }
  }
  return p;
}

}  // namespace jitgen
