#pragma once
// Weight layout and reading helpers every family's loader shares.
//
// A loader reads its checkpoint in two passes (WeightReads). The first (the family's for_each_tensor) checks every
// tensor against config.json -- present, shape, dtype -- and notes how to read it, converting nothing: a bad
// checkpoint is refused before anything is read or packed. The second reads: the tensors the model keeps as they are
// (embeddings, norms, biases) first, then pack_weights reads each packed weight right before it packs it and frees its
// fp32 copy right after (unless the format keeps the copies: CUDA builds, JITGEN_KEEP_F32_WEIGHTS=1). So the copies
// never coexist: a load holds the panels plus one fp32 matrix, where reading everything first held every matrix at
// once (a 7B bf16 checkpoint: 28 GB of transient fp32 beside 14 GB of bf16 panels).
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "io/safetensors.h"
#include "ops/prepared_weights.h"

namespace jitgen {

// [out, in] (HF nn.Linear, any of F32 / F16 / BF16) -> [in, out] f32: the layout the linear op and its prepared
// panels take. Converts while transposing: no fp32 [out, in] copy in between.
Tensor linear_to_kernel_layout(const Tensor& out_in);

// Throws kInvalidFile "<file>: tensor "<name>" has shape [..], expected [..] from config.json" or "... has dtype
// I32, expected F32, F16 or BF16" unless the checkpoint tensor has shape `expected` and dtype F32, F16 or BF16; then
// check_finite (below).
void check_f32_convertible(const io::TensorEntry& e, const Shape& expected);
// --check-weights: while one lives on this thread, pass 1 of a load (check_f32_convertible, and the scales of a GPTQ /
// AWQ module) also scans each checkpoint tensor's stored values for NaN / Inf, before anything is read or packed. So the
// check holds no fp32 copies (it used to load with every one kept, then scan: a 7B checkpoint's 28 GB).
class ScopedFiniteCheck {
 public:
  explicit ScopedFiniteCheck(bool on);
  ~ScopedFiniteCheck();
  ScopedFiniteCheck(const ScopedFiniteCheck&) = delete;
  ScopedFiniteCheck& operator=(const ScopedFiniteCheck&) = delete;

 private:
  bool saved_;
};
// Under a ScopedFiniteCheck: throws kInvalidFile "<file>: tensor "<name>" contains NaN or Inf values
// (--check-weights)" unless every value of the checkpoint tensor is finite (F32, F16, BF16; integers pass), then drops
// the pages the scan read from the resident set. Nothing otherwise.
void check_finite(const io::TensorEntry& e);
// Takes the pages wholly inside `mapped` (a view into a checkpoint's read-only private mapping) out of this process's
// resident set. They stay in the page cache and a later read faults the same bytes back in: a loader calls it once it
// has copied the tensor out, so that a load's RSS does not grow by every checkpoint page it has read.
void drop_resident_pages(const Tensor& mapped);
// A checked tensor as f32, an owned copy (a load's fp32 weight copy, counted below); `linear`: transposed to the
// kernel layout. The checkpoint pages it read leave the process's resident set (they stay in the page cache).
Tensor read_f32(const io::TensorEntry& e, bool linear);

// The fp32 weight copies loads made (read_f32, the GPT-2 loader, GPTQ / AWQ dequantization) that are still alive,
// in bytes, and the most alive at once since reset_weight_copy_peak(). Process-wide; for tests, which check that a
// load's peak is what it keeps plus one matrix.
struct WeightCopyBytes {
  size_t live = 0, peak = 0;
};
WeightCopyBytes weight_copy_bytes();
void reset_weight_copy_peak();  // peak = live
// `t` (an owned fp32 copy nothing else references) with its storage counted in weight_copy_bytes while it lives.
Tensor counted_weight_copy(Tensor t);

// One weight PreparedWeights packs: [in, out], or [out, in] when `transposed` (an lm_head, shaped as the embedding).
// A tied lm_head is listed as the embedding table's own slot (pack_weights' `embedding`); pack_weights points the
// loader's lm_head slot (`tied_head`) at what the head reads once packed.
struct PackedWeight {
  Tensor* weight;
  bool transposed = false;
  bool lm_head = false;
};

// The second pass's reads, noted by the first pass per weight slot (a Tensor of the family's Weights).
class WeightReads {
 public:
  struct Read {
    Tensor weight;
    std::shared_ptr<const cpu::QuantMatrix> prequantized;  // GPTQ / AWQ: the stored form `weight` dequantizes
  };
  // `stored`: the checkpoint tensor `read` converts, when it is one tensor as stored in [N, K] layout (an nn.Linear
  // weight or an embedding table, before any transposition): pack_weights may pack an lm_head straight from it.
  void defer(Tensor& slot, std::function<Read()> read, const io::TensorEntry* stored = nullptr);
  // Reads every noted slot but the `packed` ones and the embedding `table` (pack_weights reads those, one at a time).
  void read_all_except(const std::vector<PackedWeight>& packed, const Tensor* table);
  // Fills `slot` when it was noted (once) and returns its prequantized form, or null.
  std::shared_ptr<const cpu::QuantMatrix> read(Tensor& slot);
  // The checkpoint tensor noted for `slot` while its read is pending, or null.
  const io::TensorEntry* stored(Tensor& slot) const;
  // Drops the pending read of `slot` (packed from stored() instead).
  void forget(Tensor& slot) { pending_.erase(&slot); }

 private:
  struct Pending {
    std::function<Read()> read;
    const io::TensorEntry* stored = nullptr;
  };
  std::map<Tensor*, Pending> pending_;
};

// Packs `weights` in the order given (the arena lays them out in that order: the order a step reads them), each read
// from `reads` right before when noted there (reads may be null: weights already in memory), and frees each one's
// fp32 data right after unless the format keeps it (WeightFormat::keep_sources).
// The lm_head, tied or not, is packed straight from its checkpoint tensor when `reads` noted one and the panels hold it
// exactly (PreparedWeights::add_exact): no fp32 copy of the largest matrix at all (Llama-3's 128k-vocab head: 1-2 GB).
// A tied lm_head (listed as `embedding` itself, the table the lookup reads) is released only when the panels hold
// every value of the table exactly (fp32 panels; bf16 panels of a BF16 checkpoint's table), and the table's slot then
// holds the stand-in: the lookup reads the rows from the panels (cpu::embedding) and the table's memory goes.
// Otherwise the table stays, as the lookup reads it. So a tied model keeps one copy of its table, not two (the panels
// and the fp32 table: 1 GB more for Llama-3.2-1B).
// A quantized lm_head (quantize_lm_head) is quantized from its checkpoint rows in blocks
// (PreparedWeights::add_quantized_head): no fp32 copy of it either. Tied, the lookup still needs the table's values:
// when they are bf16 or f16 values (a BF16 or F16 checkpoint's) the table goes into 16-bit lookup storage of its own
// (add_table) and the head, quantized from the same rows, into a stand-in of its own, so the two roles part and no
// fp32 table stays (Llama-3.2-1B: 1 GiB less); otherwise the head is quantized from the fp32 table, which the lookup
// keeps.
// An untied `embedding` is packed first, into bf16 panels of its own when every value is a bf16 value (a BF16
// checkpoint's), else into f16 rows when every value is an f16 value (an F16 checkpoint's; PreparedWeights::add_table),
// read from its checkpoint rows when `reads` noted them: half the bytes of the fp32 table, in every weight format, the
// lookup exact. Otherwise it is read as fp32 then, before the panels grow.
// `tied_head`: a tied model's lm_head slot (null when untied), set last to what the head reads: the table's slot, or
// the quantized head's own stand-in when the two parted.
std::shared_ptr<cpu::PreparedWeights> pack_weights(cpu::WeightStorage storage, const std::vector<PackedWeight>& weights,
                                                   Tensor* embedding, WeightReads* reads, Tensor* tied_head = nullptr);

}  // namespace jitgen
