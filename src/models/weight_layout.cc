#include "models/weight_layout.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <atomic>
#include <utility>

#include <fmt/format.h>

#include "core/finite.h"
#include "jitgen/error.h"

namespace jitgen {

namespace {

std::atomic<size_t> g_copy_live{0}, g_copy_peak{0};
thread_local bool t_check_finite = false;  // ScopedFiniteCheck

void note_copy(size_t bytes) {
  const size_t live = g_copy_live.fetch_add(bytes) + bytes;
  size_t peak = g_copy_peak.load();
  while (live > peak && !g_copy_peak.compare_exchange_weak(peak, live)) {
  }
}

// dst [K, N] = src [N, K] transposed, converting each element: in 64 x 64 tiles, so that both sides stay in cache.
template <typename Load>
void transpose_into(float* dst, int64_t N, int64_t K, Load load) {
  constexpr int64_t kTile = 64;
  for (int64_t n0 = 0; n0 < N; n0 += kTile)
    for (int64_t k0 = 0; k0 < K; k0 += kTile)
      for (int64_t n = n0; n < std::min(N, n0 + kTile); ++n)
        for (int64_t k = k0; k < std::min(K, k0 + kTile); ++k) dst[k * N + n] = load(n * K + k);
}

}  // namespace

WeightCopyBytes weight_copy_bytes() { return {g_copy_live.load(), g_copy_peak.load()}; }
void reset_weight_copy_peak() { g_copy_peak.store(g_copy_live.load()); }

// Nothing ever writes the mapping, so the dropped pages refault with the same bytes: this changes memory, not results.
// Without it, the pages a load has read stay resident until the checkpoint closes, and an F32 checkpoint's peak RSS
// holds the whole file (4.4 GB for TinyLlama-1.1B) beside the panels. The pages at either end may hold a neighbour's
// bytes: kept.
void drop_resident_pages(const Tensor& mapped) {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(mapped.data());
  const uintptr_t first = (begin + page - 1) / page * page, last = (begin + mapped.nbytes()) / page * page;
  // Only pages of a file mapping: MADV_DONTNEED on a private file mapping drops pages that fault back from the file,
  // but on the aligned copy safetensors makes of a misaligned tensor (anonymous memory) it zeroes them, and the
  // tensor may be read again (--check-weights scans it in pass 1, the load reads it in pass 2).
  if (last > first && io::in_file_mapping(mapped.data(), mapped.nbytes()))
    madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);  // best effort
}

Tensor counted_weight_copy(Tensor t) {
  const size_t bytes = t.nbytes();
  void* data = t.data();
  Shape shape = t.shape();
  const DType dtype = t.dtype();
  note_copy(bytes);
  // The copy's storage now lives exactly as long as the returned tensor and its copies (release_source drops them).
  std::shared_ptr<void> owner(new Tensor(std::move(t)), [bytes](void* p) {
    delete static_cast<Tensor*>(p);
    g_copy_live.fetch_sub(bytes);
  });
  return Tensor::view(data, std::move(shape), dtype, std::move(owner));
}

Tensor linear_to_kernel_layout(const Tensor& w) {
  const int64_t N = w.dim(0), K = w.dim(1);  // [out, in]
  Tensor t = Tensor::zeros({K, N});
  float* dst = t.f32();
  const void* src = w.data();
  switch (w.dtype()) {
    case DType::kF32:
      transpose_into(dst, N, K, [&](int64_t i) { return static_cast<const float*>(src)[i]; });
      break;
    case DType::kF16:
      transpose_into(dst, N, K, [&](int64_t i) { return f16_to_f32(static_cast<const uint16_t*>(src)[i]); });
      break;
    case DType::kBF16:
      transpose_into(dst, N, K, [&](int64_t i) { return bf16_to_f32(static_cast<const uint16_t*>(src)[i]); });
      break;
    case DType::kI32:
      transpose_into(dst, N, K, [&](int64_t i) { return static_cast<float>(static_cast<const int32_t*>(src)[i]); });
      break;
  }
  return counted_weight_copy(std::move(t));
}

void check_f32_convertible(const io::TensorEntry& e, const Shape& expected) {
  if (e.tensor.shape() != expected)
    throw_invalid_file(fmt::format("{}: tensor \"{}\" has shape {}, expected {} from config.json", e.file, e.name,
                                   shape_str(e.tensor.shape()), shape_str(expected)));
  const DType dt = e.tensor.dtype();
  if (dt != DType::kF32 && dt != DType::kF16 && dt != DType::kBF16)
    throw_invalid_file(fmt::format("{}: tensor \"{}\" has dtype {}, expected F32, F16 or BF16", e.file, e.name,
                                   dtype_name(dt)));
  check_finite(e);
}

ScopedFiniteCheck::ScopedFiniteCheck(bool on) : saved_(t_check_finite) { t_check_finite = on; }
ScopedFiniteCheck::~ScopedFiniteCheck() { t_check_finite = saved_; }

void check_finite(const io::TensorEntry& e) {
  if (!t_check_finite) return;
  const bool finite = all_finite(e.tensor);
  drop_resident_pages(e.tensor);
  if (!finite)
    throw_invalid_file(fmt::format("{}: tensor \"{}\" contains NaN or Inf values (--check-weights)", e.file, e.name));
}

Tensor read_f32(const io::TensorEntry& e, bool linear) {
  // A copy out of the mapping either way: kernels want aligned, owned memory.
  Tensor t = linear ? linear_to_kernel_layout(e.tensor) : counted_weight_copy(e.tensor.to_f32());
  drop_resident_pages(e.tensor);
  return t;
}

void WeightReads::defer(Tensor& slot, std::function<Read()> read, const io::TensorEntry* stored) {
  pending_[&slot] = Pending{std::move(read), stored};
}

const io::TensorEntry* WeightReads::stored(Tensor& slot) const {
  auto it = pending_.find(&slot);
  return it == pending_.end() ? nullptr : it->second.stored;
}

void WeightReads::read_all_except(const std::vector<PackedWeight>& packed, const Tensor* table) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    const bool is_packed = std::any_of(packed.begin(), packed.end(), [&](const PackedWeight& p) {
      return p.weight == it->first;
    });
    if (is_packed || it->first == table) {
      ++it;
      continue;
    }
    *it->first = it->second.read().weight;
    it = pending_.erase(it);
  }
}

std::shared_ptr<const cpu::QuantMatrix> WeightReads::read(Tensor& slot) {
  auto it = pending_.find(&slot);
  if (it == pending_.end()) return nullptr;
  Read r = it->second.read();
  pending_.erase(it);
  slot = std::move(r.weight);
  return std::move(r.prequantized);
}

namespace {

// The rows_done callback of a packer reading `rows` [N, K] (a checkpoint tensor as stored): rows [n0, n1) leave the
// resident set as soon as they are packed.
std::function<void(int64_t, int64_t)> drop_packed_rows(const Tensor& rows) {
  return [&rows](int64_t n0, int64_t n1) {
    const int64_t row_bytes = rows.dim(1) * static_cast<int64_t>(dtype_size(rows.dtype()));
    drop_resident_pages(Tensor::view(static_cast<char*>(const_cast<void*>(rows.data())) + n0 * row_bytes,
                                     {n1 - n0, rows.dim(1)}, rows.dtype()));
  };
}

// An untied embedding table: into 16 bits when they hold it exactly (PreparedWeights::add_table: bf16 panels, f16
// rows), straight from the checkpoint rows when `reads` noted them (no fp32 copy), else read as fp32 now, before the
// panels grow.
void pack_table(cpu::PreparedWeights& p, Tensor& table, WeightReads* reads) {
  const io::TensorEntry* e = reads ? reads->stored(table) : nullptr;
  if (!e) {  // in memory already (a preset; a slot noted without its stored tensor)
    if (reads) reads->read(table);
    if (!table.defined()) return;
    Tensor stand_in = p.add_table(table);
    if (stand_in.defined()) table = std::move(stand_in);  // the fp32 copy goes unless something else holds it
    return;
  }
  const Tensor& rows = e->tensor;
  Tensor stand_in = p.add_table(rows, drop_packed_rows(rows));
  if (!stand_in.defined()) {
    reads->read(table);
    return;
  }
  reads->forget(table);
  drop_resident_pages(rows);
  table = std::move(stand_in);
}

// Whether a tied table and the lm_head the format quantizes part (split_tied_head) when the table is `stored`: the
// lookup takes the values in 16 bits, which a BF16 or F16 checkpoint's are (F32 ones are read first and scanned then).
bool parts_from_rows(const cpu::PreparedWeights& p, const io::TensorEntry* stored) {
  return p.format().quantizes_released_head() && stored &&
         (stored->tensor.dtype() == DType::kBF16 || stored->tensor.dtype() == DType::kF16);
}

// A tied table whose lm_head the format quantizes: the lookup needs the table's values, the head its codes. Both come
// from the same rows (the checkpoint's as stored, or the table in memory): the table into 16-bit lookup storage
// (add_table), the head quantized into an arena stand-in of its own (add_quantized_head). False, nothing packed, when
// add_table does not take the values (neither all bf16 nor all f16 values) or the format keeps sources or leaves the
// head in 16 bits.
bool split_tied_head(cpu::PreparedWeights& p, Tensor& table, Tensor& head, WeightReads* reads) {
  if (!p.format().quantizes_released_head()) return false;
  const io::TensorEntry* e = reads ? reads->stored(table) : nullptr;
  if (!e && reads) reads->read(table);  // noted without its stored tensor: as fp32, as the table would be anyway
  const Tensor& rows = e ? e->tensor : table;
  if (!rows.defined()) return false;
  const auto drop = e ? drop_packed_rows(rows) : std::function<void(int64_t, int64_t)>{};
  Tensor lookup = p.add_table(rows, drop);
  if (!lookup.defined()) return false;
  Tensor quantized = p.add_quantized_head(rows, drop);
  JITGEN_CHECK(quantized.defined());  // the format quantizes the head and releases sources (above)
  if (e) {
    reads->forget(table);
    drop_resident_pages(rows);
  }
  table = std::move(lookup);  // an in-memory fp32 table goes unless something else holds it
  head = std::move(quantized);
  return true;
}

}  // namespace

std::shared_ptr<cpu::PreparedWeights> pack_weights(cpu::WeightStorage storage, const std::vector<PackedWeight>& weights,
                                                   Tensor* embedding, WeightReads* reads, Tensor* tied_head) {
  auto p = std::make_shared<cpu::PreparedWeights>(storage);
  const bool release = !p->format().keep_sources;
  const bool tied = std::any_of(weights.begin(), weights.end(), [&](const PackedWeight& w) {
    return w.weight == embedding;
  });
  if (embedding && !tied) {
    pack_table(*p, *embedding, reads);
  } else if (tied && reads) {
    // A tied table that cannot be packed as stored is read now, before the panels grow: read last, its fp32 copy and
    // its checkpoint pages would sit on top of every panel (SmolLM2 F32 with bf16 panels: +51 MB max RSS).
    if (const io::TensorEntry* e = reads->stored(*embedding);
        e && !p->can_add_exact(e->tensor, /*lm_head=*/true) && !(tied_head && parts_from_rows(*p, e)))
      reads->read(*embedding);
  }
  bool parted = false;
  for (const PackedWeight& w : weights) {
    if (w.lm_head && tied && w.weight == embedding && tied_head) {
      parted = split_tied_head(*p, *embedding, *tied_head, reads);
      if (parted) continue;
    }
    if (const io::TensorEntry* e = w.lm_head && reads ? reads->stored(*w.weight) : nullptr) {
      const Tensor& rows = e->tensor;  // [N, K] as stored: its pages leave the resident set block by block
      const auto drop_rows = drop_packed_rows(rows);
      Tensor stand_in = p->add_exact(rows, /*lm_head=*/true, drop_rows);
      // A quantized head from its rows too, unless tied: then the lookup keeps the table's values, read as fp32.
      if (!stand_in.defined() && w.weight != embedding) stand_in = p->add_quantized_head(rows, drop_rows);
      if (stand_in.defined()) {
        reads->forget(*w.weight);
        drop_resident_pages(rows);
        *w.weight = std::move(stand_in);
        continue;
      }
    }
    std::shared_ptr<const cpu::QuantMatrix> pre = reads ? reads->read(*w.weight) : nullptr;
    p->add(*w.weight, w.transposed, w.lm_head, std::move(pre));  // the quantized form's codes go with `pre` here
    // A tied lm_head is the table's own slot: released (the slot then holds the stand-in the lookup finds the panels
    // by) only when the panels hold the table exactly.
    if (release && (w.weight != embedding || p->holds_exactly(*w.weight))) p->release_source(*w.weight);
  }
  if (tied && tied_head && !parted) *tied_head = *embedding;  // HF tie_weights(): the head reads the table
  return p;
}

}  // namespace jitgen
