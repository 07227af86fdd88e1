#pragma once
// What a model keeps on the GPU (JITGEN_CUDA builds): its weights per storage type, uploaded once, and its
// CUDA plans keyed like the CPU compile cache (device "cuda" or "cuda-eager", dtype, B, T, S, last_only).
// Shared by every CudaStepRunner of the model; hung on Model::Impl::cuda_state.
#include <cublasLt.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "graph/compile_cache.h"
#include "models/model_impl.h"
#include "ops/cuda/cuda_executable.h"

namespace jitgen {

struct CudaPlanLookup {
  std::shared_ptr<const cuda::CudaExecutable> exe;
  bool hit = false;
  double compile_ms = 0;  // trace + passes + plan + cuBLASLt heuristics (+ first weight upload); 0 on a hit
};

class CudaModelState {
 public:
  CudaModelState();
  ~CudaModelState();
  CudaModelState(const CudaModelState&) = delete;
  CudaModelState& operator=(const CudaModelState&) = delete;

  // The model's state, created on first use (thread-safe).
  static CudaModelState& of(const Model::Impl& model);

  cuda::DeviceWeights& weights(cuda::Storage storage);
  // `trace` records the graph for `key`; fused = the default passes (compiled mode).
  CudaPlanLookup get_or_build(const CompileKey& key, bool fused, cuda::Storage storage,
                              const std::function<Graph()>& trace);
  int64_t plans() const;

 private:
  mutable std::mutex mu_;
  cublasLtHandle_t lt_ = nullptr;
  std::map<cuda::Storage, std::unique_ptr<cuda::DeviceWeights>> weights_;
  std::map<CompileKey, std::shared_ptr<const cuda::CudaExecutable>> plans_;
};

}  // namespace jitgen
