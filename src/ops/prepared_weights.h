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
#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace jitgen::cpu {

enum class WeightStorage { kF32, kBF16 };
// JITGEN_WEIGHTS=bf16 selects bf16 storage: weights and the activations they multiply are bf16 (rounded to
// nearest even, as llama.cpp rounds activations for its f16 weights), products accumulate in fp32; anything
// else, or unset, fp32. Read by prepare steps that are not given a storage explicitly.
WeightStorage weight_storage_from_env();
const char* weight_storage_name(WeightStorage s);

constexpr int64_t kPanel = 32;  // columns per panel

struct PackedLinear {
  int64_t K = 0, N = 0, panels = 0;
  WeightStorage storage = WeightStorage::kF32;
  std::shared_ptr<void> data;  // panels * K * kPanel elements (float or uint16 bf16), 64-byte aligned
  Tensor source;               // the fp32 weight it came from (kept alive so its address stays unique)

  const float* f32() const { return static_cast<const float*>(data.get()); }
  const uint16_t* bf16() const { return static_cast<const uint16_t*>(data.get()); }
  int64_t k_stored() const { return storage == WeightStorage::kF32 ? K : (K + 1) / 2 * 2; }  // bf16: K padded to even
  size_t nbytes() const {
    return static_cast<size_t>(panels * k_stored() * kPanel) * (storage == WeightStorage::kF32 ? 4 : 2);
  }
};

// Index of W[k][32p + j] in bf16 panels (layout above); K2 = k_stored().
inline int64_t bf16_panel_index(int64_t p, int64_t K2, int64_t k, int64_t j) {
  return ((p * (K2 / 2) + k / 2) * 2 + j / 16) * 32 + 2 * (j % 16) + (k % 2);
}

// w [K, N] (Conv1D, transposed == false) or w [N, K] (nn.Linear / tied lm_head, transposed == true).
PackedLinear pack_linear(const Tensor& w, bool transposed, WeightStorage storage);

// A set of packed weights, registered for lookup while the set lives.
class PreparedWeights {
 public:
  explicit PreparedWeights(WeightStorage storage) : storage_(storage) {}
  ~PreparedWeights();
  PreparedWeights(const PreparedWeights&) = delete;
  PreparedWeights& operator=(const PreparedWeights&) = delete;

  void add(const Tensor& w, bool transposed);
  WeightStorage storage() const { return storage_; }
  size_t nbytes() const;

 private:
  WeightStorage storage_;
  std::vector<std::unique_ptr<PackedLinear>> packed_;
};

// The panels prepared for fp32 weight data `w` with that shape, or null.
const PackedLinear* find_packed(const float* w, int64_t K, int64_t N);

}  // namespace jitgen::cpu
