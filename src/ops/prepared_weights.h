#pragma once
// Weights prepared once at load for the decode kernels: every linear weight re-laid as column panels
// (fp32, or bf16 when the runtime asks for it) so that one GEMV streams each panel front to back.
//
// Panel layout, for y[M, N] = x[M, K] @ W[K, N]: panel p holds columns [32p, 32p + 32) as [K][32],
// zero-padded past N. bf16 panels pair columns: 32-bit lane i of each 64-byte row holds column i in
// its low half and column 16 + i in its high half, so widening to fp32 is one shift and one mask.
//
// Kernels find a weight's panels by the address of its fp32 data (the pointer the graph binds), in a
// registry that a PreparedWeights set fills for its lifetime. Unprepared weights still work (BLAS).
#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace jitgen::cpu {

enum class WeightStorage { kF32, kBF16 };
// JITGEN_WEIGHTS=bf16 selects bf16 storage (weight-only: activations and accumulation stay fp32);
// anything else, or unset, fp32. Read by prepare steps that are not given a storage explicitly.
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
  size_t nbytes() const { return static_cast<size_t>(panels * K * kPanel) * (storage == WeightStorage::kF32 ? 4 : 2); }
};

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
