#pragma once
// Weights prepared once at load for the decode kernels: every linear weight re-laid as column panels
// (fp32, or bf16 when the runtime asks for it) so that one GEMV streams each panel front to back.
//
// Panel layout, for y[M, N] = x[M, K] @ W[K, N]: panel p holds columns [32p, 32p + 32) as [K][32],
// zero-padded past N. bf16 panels pair consecutive k instead: for each k pair q (k = 2q, 2q + 1; K padded to
// even with zeros) two 64-byte vectors hold columns 0-15 and 16-31, and 32-bit lane i holds column 16h + i at
// k = 2q in its low half and at k = 2q + 1 in its high half -- the operand layout of AVX512_BF16's vdpbf16ps
// (one instruction multiplies a k pair of 16 columns by the pair of x, accumulating in fp32), and widening to
// fp32 on CPUs without it is one shift (even k) and one mask (odd k).
//
// Kernels find a weight's panels by the address of its fp32 data (the pointer the graph binds), in a
// registry that a PreparedWeights set fills for its lifetime. Unprepared weights still work (BLAS).
//
// After packing, the fp32 data is dead weight for the CPU kernels (the panels are all they read), and for a
// 1.1B-parameter model it is 4.4 GB next to 4.4 GB (f32) or 2.2 GB (bf16) of panels. release_source() frees it: the
// weight's tensor then points at an address reservation of the same size (core/memory.h address_reservation) that
// holds no memory and faults on any read, and the registry keys the panels by that address. So the key stays
// unique while the panels live, and nothing can silently read freed memory; the BLAS fallback for fp32 panels
// (M past the panel limit on narrow SIMD targets) unpacks the columns it needs from the panels (lossless).
// Models release at load unless WeightFormat::keep_sources (CUDA builds, JITGEN_KEEP_F32_WEIGHTS=1): the CUDA runner
// uploads the fp32 tensors.
//
// Weight-only quantization (ops/quant.h) happens here too: a set made while the weight format asks for int8 or
// int4 packs every linear weight quantized instead (the lm_head only when quantize_lm_head), and the linear
// kernels run the quantized panels at every M, so prefill and decode see the same weights. The fp32 tensors are
// released as above (the quantized kernels never read them); their address, a reservation then, finds the panels.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/memory.h"
#include "core/tensor.h"
#include "ops/quant.h"

namespace jitgen::cpu {

enum class WeightStorage { kF32, kBF16 };
// JITGEN_WEIGHTS=bf16 selects bf16 storage: weights and the activations they multiply are bf16 (rounded to
// nearest even, as llama.cpp rounds activations for its f16 weights), products accumulate in fp32; f32, a
// quantized format (whose leftover weights stay fp32), or unset, fp32: weight_format_for_load().storage, so a
// misspelt value throws as it does there. Read by prepare steps that are not given a storage explicitly. A
// ScopedWeightFormat (below) on this thread overrides the variable.
WeightStorage weight_storage_from_env();
const char* weight_storage_name(WeightStorage s);

// Whether a model keeps its linears' fp32 data after packing when nothing says otherwise: yes in a CUDA build (the
// CUDA runner uploads those tensors, and the model is loaded before a runner is chosen) or with
// JITGEN_KEEP_F32_WEIGHTS=1; no otherwise.
bool keep_sources_default();

// What load prepares: the storage of unquantized panels, and optionally a quantized format for the linear layers.
struct WeightFormat {
  WeightStorage storage = WeightStorage::kF32;
  std::optional<QuantSpec> quant;  // --quantize / JITGEN_WEIGHTS=int8|int4...
  bool quantize_lm_head = false;   // --quantize-lm-head / JITGEN_QUANTIZE_LM_HEAD=1: the lm_head too
  // Pre-quantized checkpoints (GPTQ / AWQ, models/quantized_checkpoint.h): true runs their linears as fp32 (or bf16)
  // panels of the exactly dequantized weights instead of the quantized kernels -- the reference path without
  // activation quantization (tests, accuracy). Set through ScopedWeightFormat only.
  bool dequantize_checkpoint = false;
  // Set by PreparedWeights when it packed a checkpoint's own quantized weights: their panel format, e.g.
  // "ckpt-int4-g128-f16-zp" ("-perm" when some matrix permutes its input rows, "+mixed" when matrices differ in
  // format, e.g. sym and asym groups). Empty otherwise.
  std::string checkpoint;
  // Keep the fp32 tensors of the packed linears after load (Model::from_dir / random_preset release them otherwise):
  // for the CUDA runner, and for tests that read a loaded model's weights. Not part of name(): results are the same.
  bool keep_sources = keep_sources_default();
  // The lm_head is quantized (quant with quantize_lm_head) and its fp32 source released (!keep_sources): a tied
  // table then parts from it (models/weight_layout.cc split_tied_head), and the head may be packed from its rows
  // block by block (PreparedWeights::add_quantized_head).
  bool quantizes_released_head() const { return quant && quantize_lm_head && !keep_sources; }
  // The compile-key and plan-store spelling: "f32", "bf16", "int8", "int4-g128-zp", "+lm_head" when it is quantized,
  // or `checkpoint` when set.
  std::string name() const;
};
// `text`: f32, bf16, or a quantized format (ops/quant.h parse_quant_spec). Throws naming `what` otherwise.
WeightFormat parse_weight_format(const std::string& text, const std::string& what);
// The format the next PreparedWeights uses: the innermost ScopedWeightFormat on this thread, else JITGEN_WEIGHTS and
// JITGEN_QUANTIZE_LM_HEAD (a bad JITGEN_WEIGHTS throws naming the variable).
WeightFormat weight_format_for_load();
// JITGEN_QUANTIZE_LM_HEAD=1: the lm_head quantized too. Read by weight_format_for_load, and by the CLI beside
// --quantize (the variable is --quantize-lm-head's, whichever way the format is given).
bool quantize_lm_head_from_env();
// Sets the format for model loads on this thread while it lives (CLI --quantize, Python quantize=, the server).
class ScopedWeightFormat {
 public:
  explicit ScopedWeightFormat(const WeightFormat& f);
  ~ScopedWeightFormat();
  ScopedWeightFormat(const ScopedWeightFormat&) = delete;
  ScopedWeightFormat& operator=(const ScopedWeightFormat&) = delete;

 private:
  std::optional<WeightFormat> saved_;
};

constexpr int64_t kPanel = 32;  // columns per panel

struct PackedLinear {
  int64_t K = 0, N = 0, panels = 0;
  WeightStorage storage = WeightStorage::kF32;
  std::shared_ptr<void> data;  // panels * K * kPanel elements (float or uint16 bf16), 64-byte aligned
  // The fp32 weight it came from, whose data address is the registry key (kept alive so that it stays unique); after
  // PreparedWeights::release_source an address reservation of the same shape (source_released).
  Tensor source;
  bool source_released = false;
  bool lookup_only = false;  // an untied embedding table (add_table): rows gathered, never multiplied
  // A lookup-only table of F16 values (add_table): `data` holds its rows [N][K] as IEEE f16, no panels (storage and
  // k_stored() do not apply). Only unpack_columns reads it.
  bool f16_rows = false;
  // Released: the first and the last min(256, bytes) bytes the source held, which a model fingerprint samples
  // (models/model_impl.h model_fingerprint), so a released model's fingerprint is the kept one's.
  std::vector<unsigned char> source_sample;
  std::shared_ptr<const QuantLinear> quant;  // set instead of data when the weight is quantized

  const float* f32() const { return static_cast<const float*>(data.get()); }
  const uint16_t* bf16() const { return static_cast<const uint16_t*>(data.get()); }
  int64_t k_stored() const { return storage == WeightStorage::kF32 ? K : (K + 1) / 2 * 2; }  // bf16: K padded to even
  size_t nbytes() const {
    if (quant) return quant->nbytes();
    if (f16_rows) return static_cast<size_t>(N * K) * 2;
    return static_cast<size_t>(panels * k_stored() * kPanel) * (storage == WeightStorage::kF32 ? 4 : 2);
  }
};

// Index of W[k][32p + j] in bf16 panels (layout above); K2 = k_stored().
inline int64_t bf16_panel_index(int64_t p, int64_t K2, int64_t k, int64_t j) {
  return ((p * (K2 / 2) + k / 2) * 2 + j / 16) * 32 + 2 * (j % 16) + (k % 2);
}

// Columns [n0, n1) of unquantized panels back in the weight's own layout: [K][n1 - n0] (transposed: [n1 - n0][K]), as
// fp32. Exact for fp32 panels, and for bf16 panels of values bf16 holds exactly (holds_exactly below): what BLAS over
// a released source (cpu_kernels.cc) and the lookup of a released tied embedding table (cpu::embedding) read.
void unpack_columns(const PackedLinear& p, bool transposed, int64_t n0, int64_t n1, float* dst);

// w [K, N] (Conv1D, transposed == false) or w [N, K] (nn.Linear / tied lm_head, transposed == true; F32, or F16 / BF16
// as a checkpoint stores it). The panels come from `arena` when given (right after the ones packed before), else from
// their own buffer. `columns_done(n0, n1)`, when given, is called as each block of columns (~32 MiB of source) is
// packed, in order: a loader drops those checkpoint pages from the resident set as it goes.
PackedLinear pack_linear(const Tensor& w, bool transposed, WeightStorage storage, StreamArena* arena = nullptr,
                         const std::function<void(int64_t, int64_t)>& columns_done = {});

// A set of packed weights, registered for lookup while the set lives. Panels -- fp32, bf16 and quantized alike --
// lie back to back in the order they were added (core/memory.h StreamArena): add them in the order a step reads
// them and a decode step streams them as one run (measured 25-28 GB/s on one Zen 4 core against 19-20 GB/s as
// separate buffers).
class PreparedWeights {
 public:
  // `storage` for unquantized panels; the quantized format comes from weight_format_for_load() at construction.
  explicit PreparedWeights(WeightStorage storage);
  ~PreparedWeights();
  PreparedWeights(const PreparedWeights&) = delete;
  PreparedWeights& operator=(const PreparedWeights&) = delete;

  // lm_head: the output projection, quantized only when the format says quantize_lm_head. `prequantized`: the
  // checkpoint's own quantized form of `w` (w is its dequantization), packed as it is (or, with
  // dequantize_checkpoint, ignored: w is packed as fp32 / bf16).
  void add(const Tensor& w, bool transposed, bool lm_head = false,
           std::shared_ptr<const QuantMatrix> prequantized = nullptr);
  // Packs w [N, K] (nn.Linear / embedding layout; F32, F16 or BF16, e.g. a checkpoint's tensor as stored) into
  // unquantized panels straight from its values, with no fp32 copy, when they hold every value exactly (fp32 panels;
  // bf16 panels of a BF16 w) and the format releases sources. The weight is released from the start: returns the
  // stand-in (an F32 [N, K] address reservation, release_source's) that finds the panels, its fingerprint bytes
  // those of an fp32 copy. Returns an undefined tensor, having packed nothing, when the format keeps sources, would
  // quantize w (a quantized lm_head) or would round it.
  // Whether add_exact(w, lm_head) would pack w (rather than return an undefined tensor).
  bool can_add_exact(const Tensor& w, bool lm_head) const;
  // `rows_done(n0, n1)`: rows [n0, n1) of w are packed (pack_linear's columns_done).
  Tensor add_exact(const Tensor& w, bool lm_head, const std::function<void(int64_t, int64_t)>& rows_done = {});
  // A quantized lm_head (the format's quantize_lm_head) from w [N, K] (F32, F16 or BF16, e.g. an untied checkpoint
  // tensor as stored, or a tied table's rows), quantized in blocks of rows (~32 MiB of fp32 at a time; `rows_done(n0,
  // n1)` after each) and each block packed into its panels at once, so neither an fp32 copy of the whole matrix nor
  // its unpacked codes ever exist: the same panels, byte for byte, as add() of its fp32 copy. Released from the
  // start, as add_exact. Undefined, nothing packed, when the format keeps sources or does not quantize the lm_head.
  // Throws as quantize() on a NaN / Inf weight.
  // `block_rows`: rows per block, rounded up to whole panels of 32 (0: ~32 MiB of fp32; tests pass a few).
  Tensor add_quantized_head(const Tensor& w, const std::function<void(int64_t, int64_t)>& rows_done = {},
                            int64_t block_rows = 0);
  // An untied embedding table w [V, C] (F32, F16 or BF16, e.g. a checkpoint's tensor as stored; or a tied one beside
  // a quantized lm_head, models/weight_layout.h), kept for its lookup alone, in 16 bits when that holds every value
  // exactly, in any weight format: bf16 panels when every value is a bf16 value (a BF16 checkpoint's), else the rows
  // as f16 when every value is an f16 value (an F16 checkpoint's: f16_rows), in their own buffer (not in the run a
  // decode step streams). The lookup (cpu::embedding) reads the rows back exactly, so this rounds nothing. Half the
  // bytes of the fp32 table a model kept (Llama-3-8B: 2.1 -> 1.05 GB). Released from the start, as add_exact; an
  // undefined tensor, having packed nothing, when the values fit neither or the format keeps sources (CUDA builds).
  Tensor add_table(const Tensor& w, const std::function<void(int64_t, int64_t)>& rows_done = {});
  // Frees the fp32 data of `t`, a weight this set packed: points `t` (and the panels' source) at an address
  // reservation of its shape and keys the panels by it. The data itself goes when no other copy of the old tensor
  // holds it. False (nothing changed) when `t` is not one of this set's weights or no reservation can be made.
  bool release_source(Tensor& t);
  // Whether the panels of `t` (a weight this set packed, its source not yet released) reproduce every value of it
  // exactly: fp32 panels do; bf16 panels when every value is a bf16 value (a BF16 checkpoint's); quantized ones never.
  // A tied embedding table may then be released with its lm_head: the lookup reads the rows from the panels.
  bool holds_exactly(const Tensor& t) const;
  // Bytes of fp32 source data still held by the packed weights (0 once every source is released).
  size_t source_bytes() const;
  bool any_source_released() const;
  // The packed weight whose released source is now at `data` (a stand-in address), or null.
  const PackedLinear* released(const void* data) const;
  WeightStorage storage() const { return format_.storage; }
  // The storage of w's unquantized panels: the format's; but an lm_head that a quantized format leaves in 16 bits
  // (docs/quantization.md) is bf16 panels when every value of it is a bf16 value -- a BF16 checkpoint's, exactly --
  // and fp32 panels otherwise (an F32 / F16 checkpoint's values, kept exact). Half the bytes of the largest matrix
  // every decode step reads (Llama-3.2-1B int8: the 128k-vocab head was half of them in fp32).
  WeightStorage storage_for(const Tensor& w, bool lm_head) const;
  const WeightFormat& format() const { return format_; }
  size_t nbytes() const;  // every panel: the weights' resident bytes
  // The bytes a decode step streams: nbytes() but the lookup-only tables (add_table), of which a step reads a few
  // rows. What a read-bandwidth roofline counts (bench/generate_bench.cc).
  size_t step_bytes() const;

 private:
  // The storage add_exact packs w in, or none when it would not (see add_exact).
  std::optional<WeightStorage> exact_storage(const Tensor& w, bool lm_head) const;
  // Packs w [N, K] (nn.Linear / embedding layout) into `storage` panels from `arena` (or their own buffer) and
  // registers them released: add_exact's and add_table's common part; undefined when no reservation can be made.
  Tensor add_released(const Tensor& w, WeightStorage storage, StreamArena* arena,
                      const std::function<void(int64_t, int64_t)>& rows_done);
  // Registers what `pack` makes of w as released, its stand-in an F32 [N, K] reservation whose fingerprint bytes are
  // an fp32 copy's (pack runs once the reservation is made); undefined, nothing packed, when none can be made.
  Tensor add_released(const Tensor& w, const std::function<std::unique_ptr<PackedLinear>()>& pack);

  WeightFormat format_;
  StreamArena arena_;  // every panel (fp32, bf16, quantized), in add order
  std::vector<std::unique_ptr<PackedLinear>> packed_;
  std::string ckpt_spec_;  // the first pre-quantized matrix's format; others differing make it "+mixed"
  bool ckpt_perm_ = false, ckpt_mixed_ = false;
};

// The panels prepared for fp32 weight data `w` with that shape, or null.
const PackedLinear* find_packed(const float* w, int64_t K, int64_t N);

}  // namespace jitgen::cpu
