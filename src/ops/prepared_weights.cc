#include "ops/prepared_weights.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <fmt/format.h>

#include "core/memory.h"
#include "runtime/thread_pool.h"

namespace jitgen::cpu {

namespace {

std::shared_mutex g_mu;
// Bumped (under g_mu) on every registry change: the per-thread memos in find_packed drop what they saw before.
std::atomic<uint64_t> g_generation{1};
std::unordered_map<const float*, const PackedLinear*>& registry() {
  static auto* r = new std::unordered_map<const float*, const PackedLinear*>();
  return *r;
}

// Keys `p`'s panels by `key` (add, add_exact, and release_source's stand-in, which drops `old_key` while it still
// names p), and makes every thread's memo forget what it saw.
void key_panels(const PackedLinear* p, const float* key, const float* old_key = nullptr) {
  std::unique_lock lock(g_mu);
  if (old_key) {
    auto it = registry().find(old_key);
    if (it != registry().end() && it->second == p) registry().erase(it);
  }
  registry()[key] = p;
  g_generation.fetch_add(1, std::memory_order_release);
}

// Zeroed panels: from `arena` (back to back with the weights packed before) or, without one, on their own (large
// ones on transparent huge pages either way, core/memory.h).
std::shared_ptr<void> panel_buffer(size_t bytes, StreamArena* arena) {
  std::shared_ptr<void> p = arena ? arena->take(bytes) : zeroed_buffer(bytes);
  JITGEN_CHECK(p != nullptr);
  return p;
}

}  // namespace

namespace {
thread_local std::optional<WeightFormat> t_format;  // the innermost ScopedWeightFormat on this thread
}  // namespace

bool keep_sources_default() {
#ifdef JITGEN_CUDA_BUILD
  return true;
#else
  const char* e = std::getenv("JITGEN_KEEP_F32_WEIGHTS");
  return e && std::string(e) == "1";
#endif
}

WeightStorage weight_storage_from_env() { return weight_format_for_load().storage; }

const char* weight_storage_name(WeightStorage s) { return s == WeightStorage::kBF16 ? "bf16" : "f32"; }

std::string WeightFormat::name() const {
  if (!checkpoint.empty()) return checkpoint;
  if (!quant) return weight_storage_name(storage);
  return quant->name() + (quantize_lm_head ? "+lm_head" : "");
}

WeightFormat parse_weight_format(const std::string& text, const std::string& what) {
  WeightFormat f;
  if (text == "f32" || text == "F32" || text.empty()) return f;
  if (text == "bf16" || text == "BF16") {
    f.storage = WeightStorage::kBF16;
    return f;
  }
  if (text.rfind("int", 0) != 0)
    throw_invalid_argument(fmt::format("{}: \"{}\" is not a weight format; expected f32, bf16 or a quantized format "
                                       "(int8, int4, int4-g128, int4-g128-f16-zp, ...: docs/quantization.md)",
                                       what, text));
  f.quant = parse_quant_spec(text, what);
  return f;
}

WeightFormat weight_format_for_load() {
  if (t_format) return *t_format;
  const char* e = std::getenv("JITGEN_WEIGHTS");
  // Parsed strictly, as --quantize is: a misspelt value (INT4, int4-zp-f16, fp16) once ran fp32 without a word.
  WeightFormat f = parse_weight_format(e ? e : "", "JITGEN_WEIGHTS");
  f.quantize_lm_head = quantize_lm_head_from_env();
  return f;
}

bool quantize_lm_head_from_env() {
  const char* h = std::getenv("JITGEN_QUANTIZE_LM_HEAD");
  return h && std::string(h) == "1";
}

ScopedWeightFormat::ScopedWeightFormat(const WeightFormat& f) : saved_(t_format) { t_format = f; }
ScopedWeightFormat::~ScopedWeightFormat() { t_format = saved_; }

PreparedWeights::PreparedWeights(WeightStorage storage) : format_(weight_format_for_load()) { format_.storage = storage; }

namespace {

// Element i of a F32 / F16 / BF16 tensor as fp32 (exact).
float value_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kF16: return f16_to_f32(static_cast<const uint16_t*>(t.data())[i]);
    case DType::kBF16: return bf16_to_f32(static_cast<const uint16_t*>(t.data())[i]);
    default: return static_cast<const float*>(t.data())[i];
  }
}

// Whether every value of a F32 / F16 / BF16 tensor is a bf16 value, which bf16 panels then hold exactly.
bool bf16_values(const Tensor& t) {
  if (t.dtype() == DType::kBF16) return true;
  for (int64_t i = 0, n = t.numel(); i < n; ++i) {
    const float v = value_at(t, i);
    const uint32_t bits = std::bit_cast<uint32_t>(v);
    if ((bits & 0xFFFFu) != 0) return false;                                    // below bf16's precision
    if ((static_cast<uint32_t>(f32_to_bf16(v)) << 16) != bits) return false;  // a NaN rounding changes
  }
  return true;
}

// Whether every value of t is an f16 value (F16 storage is; F32 values round-trip through f32_to_f16 exactly).
bool f16_values(const Tensor& t) {
  if (t.dtype() == DType::kF16) return true;
  if (t.dtype() != DType::kF32) return false;  // BF16 values: bf16_values takes them first
  for (int64_t i = 0, n = t.numel(); i < n; ++i) {
    const float v = t.f32()[i];
    if (std::bit_cast<uint32_t>(f16_to_f32(f32_to_f16(v))) != std::bit_cast<uint32_t>(v)) return false;
  }
  return true;
}

// A matrix of F32 / F16 / BF16 values: what the packers that read a checkpoint tensor as stored take.
bool float_matrix(const Tensor& w) {
  return w.rank() == 2 && (w.dtype() == DType::kF32 || w.dtype() == DType::kF16 || w.dtype() == DType::kBF16);
}

}  // namespace

PackedLinear pack_linear(const Tensor& w, bool transposed, WeightStorage storage, StreamArena* arena,
                         const std::function<void(int64_t, int64_t)>& columns_done) {
  JITGEN_CHECK(w.rank() == 2 && (w.dtype() == DType::kF32 || (transposed && w.dtype() != DType::kI32)));
  PackedLinear p;
  p.K = transposed ? w.dim(1) : w.dim(0);
  p.N = transposed ? w.dim(0) : w.dim(1);
  p.panels = (p.N + kPanel - 1) / kPanel;
  p.storage = storage;
  p.source = w;
  const int64_t K = p.K, N = p.N, K2 = p.k_stored();
  const float* src = w.dtype() == DType::kF32 ? w.f32() : nullptr;
  auto at = [&](int64_t k, int64_t n) {
    if (!src) return value_at(w, n * K + k);  // a 16-bit [N, K] checkpoint tensor (add_exact)
    return transposed ? src[n * K + k] : src[k * N + n];
  };
  const bool f32 = storage == WeightStorage::kF32;
  p.data = panel_buffer(static_cast<size_t>(p.panels * K2 * kPanel) * (f32 ? sizeof(float) : sizeof(uint16_t)), arena);
  float* dst32 = static_cast<float*>(p.data.get());
  uint16_t* dst16 = static_cast<uint16_t*>(p.data.get());
  auto pack = [&](int64_t p0, int64_t p1) {
    for (int64_t pi = p0; pi < p1; ++pi)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < kPanel && pi * kPanel + j < N; ++j) {
          const float v = at(k, pi * kPanel + j);
          if (f32)
            dst32[(pi * K + k) * kPanel + j] = v;
          else
            dst16[bf16_panel_index(pi, K2, k, j)] = f32_to_bf16(v);
        }
  };
  // With columns_done: blocks of panels covering ~32 MiB of source each, reported as they finish.
  const int64_t block = columns_done ? std::max<int64_t>(1, (int64_t{32} << 20) / (kPanel * K * 4)) : p.panels;
  for (int64_t b0 = 0; b0 < p.panels; b0 += block) {
    const int64_t b1 = std::min(p.panels, b0 + block);
    runtime::parallel_for(b1 - b0, 1, [&](int64_t p0, int64_t p1) { pack(b0 + p0, b0 + p1); });
    if (columns_done) columns_done(b0 * kPanel, std::min(N, b1 * kPanel));
  }
  if (arena) arena->settle();  // written: whatever a busy machine left on 4 KiB pages goes onto huge pages now
  return p;
}

namespace {

// A lookup-only table [N, K] of f16 values (F16 as stored, or F32 that f16 holds exactly) as f16 rows
// (PackedLinear::f16_rows), ~16 MiB of rows at a time, each block reported to rows_done as it is copied.
std::unique_ptr<PackedLinear> pack_f16_rows(const Tensor& w, const std::function<void(int64_t, int64_t)>& rows_done) {
  auto p = std::make_unique<PackedLinear>();
  p->N = w.dim(0);
  p->K = w.dim(1);
  p->panels = (p->N + kPanel - 1) / kPanel;
  p->f16_rows = true;
  const int64_t K = p->K, block = std::max<int64_t>(1, (int64_t{16} << 20) / (2 * K));  // rows
  std::shared_ptr<void> buf = zeroed_buffer(static_cast<size_t>(p->N * K) * 2);
  JITGEN_CHECK(buf != nullptr);
  auto* rows = static_cast<uint16_t*>(buf.get());
  for (int64_t r0 = 0; r0 < p->N; r0 += block) {
    const int64_t r1 = std::min(p->N, r0 + block);
    if (w.dtype() == DType::kF16)
      std::memcpy(rows + r0 * K, static_cast<const uint16_t*>(w.data()) + r0 * K, (r1 - r0) * K * 2);
    else
      for (int64_t i = r0 * K; i < r1 * K; ++i) rows[i] = f32_to_f16(w.f32()[i]);
    if (rows_done) rows_done(r0, r1);
  }
  p->data = std::move(buf);
  return p;
}

}  // namespace

void PreparedWeights::add(const Tensor& w, bool transposed, bool lm_head, std::shared_ptr<const QuantMatrix> pre) {
  std::unique_ptr<PackedLinear> p;
  if (pre && !format_.dequantize_checkpoint) {
    JITGEN_CHECK(!transposed && w.dtype() == DType::kF32 && w.rank() == 2 && w.dim(0) == pre->K && w.dim(1) == pre->N);
    p = std::make_unique<PackedLinear>();
    p->K = pre->K;
    p->N = pre->N;
    p->panels = (p->N + kPanel - 1) / kPanel;
    p->storage = format_.storage;
    p->source = w;
    p->quant = std::make_shared<const QuantLinear>(pack_quant(*pre, &arena_));
    const std::string spec = pre->spec.name();
    ckpt_mixed_ = ckpt_mixed_ || (!ckpt_spec_.empty() && ckpt_spec_ != spec);
    if (ckpt_spec_.empty()) ckpt_spec_ = spec;
    ckpt_perm_ = ckpt_perm_ || !pre->perm.empty();
    format_.checkpoint = "ckpt-" + ckpt_spec_ + (ckpt_perm_ ? "-perm" : "") + (ckpt_mixed_ ? "+mixed" : "");
  } else if (format_.quant && (!lm_head || format_.quantize_lm_head)) {
    JITGEN_CHECK(w.dtype() == DType::kF32 && w.rank() == 2);
    p = std::make_unique<PackedLinear>();
    p->K = transposed ? w.dim(1) : w.dim(0);
    p->N = transposed ? w.dim(0) : w.dim(1);
    p->panels = (p->N + kPanel - 1) / kPanel;
    p->storage = format_.storage;
    p->source = w;
    p->quant = std::make_shared<const QuantLinear>(
        pack_quant(quantize(w.f32(), transposed, p->K, p->N, *format_.quant), &arena_));
  } else {
    p = std::make_unique<PackedLinear>(pack_linear(w, transposed, storage_for(w, lm_head), &arena_));
  }
  key_panels(p.get(), w.f32());
  packed_.push_back(std::move(p));
}

std::optional<WeightStorage> PreparedWeights::exact_storage(const Tensor& w, bool lm_head) const {
  const bool quantized = format_.quant && (!lm_head || format_.quantize_lm_head);
  if (format_.keep_sources || quantized || !float_matrix(w)) return std::nullopt;
  const WeightStorage s = storage_for(w, lm_head);
  // bf16 panels would round other values (storage_for already found them bf16 when it chose bf16 for a 16-bit head).
  if (s == WeightStorage::kBF16 && format_.storage == WeightStorage::kBF16 && !bf16_values(w)) return std::nullopt;
  return s;
}

bool PreparedWeights::can_add_exact(const Tensor& w, bool lm_head) const { return exact_storage(w, lm_head).has_value(); }

Tensor PreparedWeights::add_exact(const Tensor& w, bool lm_head, const std::function<void(int64_t, int64_t)>& rows_done) {
  const std::optional<WeightStorage> storage = exact_storage(w, lm_head);
  if (!storage) return {};
  return add_released(w, *storage, &arena_, rows_done);
}

Tensor PreparedWeights::add_table(const Tensor& w, const std::function<void(int64_t, int64_t)>& rows_done) {
  if (format_.keep_sources || !float_matrix(w)) return {};
  // Not in the arena: a step reads a few rows of the table, and the arena is the run of panels it reads whole.
  Tensor stand_in;
  if (bf16_values(w)) {
    stand_in = add_released(w, WeightStorage::kBF16, /*arena=*/nullptr, rows_done);
  } else if (f16_values(w)) {
    stand_in = add_released(w, [&] { return pack_f16_rows(w, rows_done); });
  }
  if (stand_in.defined()) packed_.back()->lookup_only = true;
  return stand_in;
}

Tensor PreparedWeights::add_released(const Tensor& w, WeightStorage storage, StreamArena* arena,
                                     const std::function<void(int64_t, int64_t)>& rows_done) {
  return add_released(w, [&] {
    return std::make_unique<PackedLinear>(pack_linear(w, /*transposed=*/true, storage, arena, rows_done));
  });
}

Tensor PreparedWeights::add_quantized_head(const Tensor& w, const std::function<void(int64_t, int64_t)>& rows_done,
                                           int64_t block_rows) {
  if (!format_.quantizes_released_head() || !float_matrix(w)) return {};
  Tensor stand_in = add_released(w, [&] {
    const int64_t N = w.dim(0), K = w.dim(1);
    // quantize() treats each output row on its own (its groups run along k), so blocks of rows quantized apart are
    // the whole matrix quantized at once; blocks of whole panels (32 rows) are packed into their panels right away
    // (pack_quant_rows), so neither the fp32 rows nor the unpacked codes of the whole matrix ever exist.
    const int64_t want = block_rows > 0 ? block_rows
                                        : std::max<int64_t>(1, (int64_t{32} << 20) / (K * static_cast<int64_t>(sizeof(float))));
    const int64_t block = (want + kPanel - 1) / kPanel * kPanel;
    std::optional<QuantLinear> packed;
    std::vector<float> rows;
    for (int64_t n0 = 0; n0 < N; n0 += block) {
      const int64_t n1 = std::min(N, n0 + block);
      rows.resize(static_cast<size_t>((n1 - n0) * K));
      runtime::parallel_for((n1 - n0) * K, int64_t{1} << 16, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) rows[i] = value_at(w, n0 * K + i);  // F16 / BF16 widen exactly
      });
      const QuantMatrix part = quantize(rows.data(), /*transposed=*/true, K, n1 - n0, *format_.quant);
      if (!packed) packed = quant_panels(part, N, &arena_);
      pack_quant_rows(part, n0, *packed);
      if (rows_done) rows_done(n0, n1);
    }
    JITGEN_CHECK(packed.has_value());  // N > 0
    auto p = std::make_unique<PackedLinear>();
    p->K = K;
    p->N = N;
    p->panels = (N + kPanel - 1) / kPanel;
    p->storage = format_.storage;
    p->quant = std::make_shared<const QuantLinear>(std::move(*packed));
    return p;
  });
#ifdef __GLIBC__
  malloc_trim(0);  // the row blocks and the unpacked codes went back to the heap: return them (as release_source)
#endif
  return stand_in;
}

Tensor PreparedWeights::add_released(const Tensor& w, const std::function<std::unique_ptr<PackedLinear>()>& pack) {
  const int64_t n = w.numel();
  std::shared_ptr<void> r = address_reservation(static_cast<size_t>(n) * sizeof(float));
  if (!r) return {};
  std::unique_ptr<PackedLinear> p = pack();
  void* at = r.get();  // before r moves into the view
  Tensor stand_in = Tensor::view(at, w.shape(), DType::kF32, std::move(r));
  // The bytes an fp32 copy would hold at either end (model_fingerprint samples them): as release_source keeps.
  const int64_t sample = std::min<int64_t>(n, 64);
  std::vector<float> ends;
  for (int64_t i = 0; i < sample; ++i) ends.push_back(value_at(w, i));
  for (int64_t i = n - sample; i < n; ++i) ends.push_back(value_at(w, i));
  const auto* bytes = reinterpret_cast<const unsigned char*>(ends.data());
  p->source_sample.assign(bytes, bytes + ends.size() * sizeof(float));
  p->source = stand_in;
  p->source_released = true;
  key_panels(p.get(), stand_in.f32());
  packed_.push_back(std::move(p));
  return stand_in;
}

bool PreparedWeights::release_source(Tensor& t) {
  if (!t.defined() || t.dtype() != DType::kF32) return false;
  PackedLinear* p = nullptr;
  for (const auto& q : packed_)
    if (!q->source_released && q->source.f32() == t.f32() && q->source.shape() == t.shape()) p = q.get();
  if (!p) return false;
  std::shared_ptr<void> r = address_reservation(t.nbytes());
  if (!r) return false;
  void* at = r.get();
  const auto* bytes = static_cast<const unsigned char*>(t.data());
  const size_t n = t.nbytes(), sample = std::min<size_t>(n, 256);
  p->source_sample.assign(bytes, bytes + sample);
  p->source_sample.insert(p->source_sample.end(), bytes + n - sample, bytes + n);
  Tensor stand_in = Tensor::view(at, t.shape(), DType::kF32, std::move(r));
  key_panels(p, stand_in.f32(), p->source.f32());  // every thread's memo forgets the old address
  p->source = stand_in;
  p->source_released = true;
  t = std::move(stand_in);  // the last reference to the data, unless the caller kept another copy
#ifdef __GLIBC__
  // A freed buffer below glibc's mmap threshold (raised up to 32 MiB as a load frees its temporaries) goes back to
  // the heap, not to the system; trim now, so that a load that packs and releases matrix by matrix never holds
  // much more than one set of weights.
  malloc_trim(0);
#endif
  return true;
}

bool PreparedWeights::holds_exactly(const Tensor& t) const {
  const PackedLinear* p = nullptr;
  for (const auto& q : packed_)
    if (!q->source_released && q->source.data() == t.data() && q->source.shape() == t.shape()) p = q.get();
  if (!p || p->quant || t.dtype() != DType::kF32) return false;
  return p->storage == WeightStorage::kF32 || bf16_values(t);
}

WeightStorage PreparedWeights::storage_for(const Tensor& w, bool lm_head) const {
  const bool head_16 = format_.quant && lm_head && !format_.quantize_lm_head;
  return head_16 && format_.storage == WeightStorage::kF32 && bf16_values(w) ? WeightStorage::kBF16 : format_.storage;
}

void unpack_columns(const PackedLinear& p, bool transposed, int64_t n0, int64_t n1, float* dst) {
  JITGEN_CHECK(!p.quant && n0 >= 0 && n0 <= n1 && n1 <= p.N);
  const int64_t K = p.K, nb = n1 - n0, K2 = p.k_stored();
  auto put = [&](int64_t n, int64_t k, float v) {
    if (transposed)
      dst[(n - n0) * K + k] = v;
    else
      dst[k * nb + (n - n0)] = v;
  };
  for (int64_t n = n0; n < n1; ++n) {
    const int64_t panel = n / kPanel, j = n % kPanel;
    if (p.f16_rows) {
      const uint16_t* row = static_cast<const uint16_t*>(p.data.get()) + n * K;
      for (int64_t k = 0; k < K; ++k) put(n, k, f16_to_f32(row[k]));
    } else if (p.storage == WeightStorage::kF32) {
      const float* col = p.f32() + panel * K * kPanel + j;
      for (int64_t k = 0; k < K; ++k) put(n, k, col[k * kPanel]);
    } else {
      const uint16_t* panels = p.bf16();
      for (int64_t k = 0; k < K; ++k) put(n, k, bf16_to_f32(panels[bf16_panel_index(panel, K2, k, j)]));
    }
  }
}

const PackedLinear* PreparedWeights::released(const void* data) const {
  for (const auto& p : packed_)
    if (p->source_released && p->source.data() == data) return p.get();
  return nullptr;
}

size_t PreparedWeights::source_bytes() const {
  size_t n = 0;
  for (const auto& p : packed_)
    if (!p->source_released) n += p->source.nbytes();
  return n;
}

bool PreparedWeights::any_source_released() const {
  for (const auto& p : packed_)
    if (p->source_released) return true;
  return false;
}

size_t PreparedWeights::nbytes() const {
  size_t n = 0;
  for (const auto& p : packed_) n += p->nbytes();
  return n;
}

size_t PreparedWeights::step_bytes() const {
  size_t n = 0;
  for (const auto& p : packed_)
    if (!p->lookup_only) n += p->nbytes();
  return n;
}

PreparedWeights::~PreparedWeights() {
  std::unique_lock lock(g_mu);
  for (const auto& p : packed_) {
    auto it = registry().find(p->source.f32());
    if (it != registry().end() && it->second == p.get()) registry().erase(it);
  }
  g_generation.fetch_add(1, std::memory_order_release);
}

// Every linear of every step asks (~200 times a decoded token for a 30-layer Llama); the shared lock's two atomic
// read-modify-writes and the hash lookup were ~1% of a quantized batch-1 decode. So each thread keeps a small
// open-addressed memo of the answers (nullptr included) it got under the lock, valid while the registry's
// generation is the one it was filled at: a PreparedWeights built or destroyed (even at a reused address) bumps
// the generation and every memo starts over. A full probe window just asks under the lock, uncached.
const PackedLinear* find_packed(const float* w, int64_t K, int64_t N) {
  struct Memo {
    const float* w = nullptr;
    const PackedLinear* p = nullptr;
  };
  constexpr size_t kSlots = 512, kProbes = 8;
  thread_local std::array<Memo, kSlots> memo{};
  thread_local uint64_t memo_generation = 0;
  const uint64_t gen = g_generation.load(std::memory_order_acquire);
  if (gen != memo_generation) {
    memo.fill(Memo{});
    memo_generation = gen;
  }
  const size_t h = static_cast<size_t>((reinterpret_cast<uintptr_t>(w) * 0x9E3779B97F4A7C15ull) >> 55);  // 9 bits
  const PackedLinear* p = nullptr;
  bool found = false;
  Memo* empty = nullptr;
  for (size_t i = 0; w && i < kProbes; ++i) {  // an empty slot's w is nullptr: never memoised
    Memo& m = memo[(h + i) % kSlots];
    if (m.w == w) {
      p = m.p;
      found = true;
      break;
    }
    if (!m.w) {
      empty = &m;
      break;
    }
  }
  if (!found) {
    {
      std::shared_lock lock(g_mu);
      auto it = registry().find(w);
      p = it == registry().end() ? nullptr : it->second;
    }
    // Filled at the generation read above: a change since then bumps it again and the next call starts over.
    if (empty) *empty = Memo{w, p};
  }
  if (!p || p->K != K || p->N != N) return nullptr;
  return p;
}

}  // namespace jitgen::cpu
