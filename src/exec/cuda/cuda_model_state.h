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
#include <tuple>

#include "graph/compile_cache.h"
#include "models/model_impl.h"
#include "exec/cuda/cuda_step_runner.h"
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

  // Runners kept for reuse, so that a generate() call does not pay for cudaMalloc, cudaHostAlloc and graph
  // capture again: one idle runner per (rows, capacity, storage, mode, prompt bucket), at most kMaxIdle.
  std::unique_ptr<CudaStepRunner> take_runner(int rows, int capacity, const CudaRunnerOptions& o);
  void give_back(std::unique_ptr<CudaStepRunner> runner);
  static constexpr size_t kMaxIdle = 8;

 private:
  using PoolKey = std::tuple<int, int, int, bool, int>;
  static PoolKey pool_key(int rows, int capacity, const CudaRunnerOptions& o) {
    return {rows, capacity, static_cast<int>(o.storage), o.graphs, o.prompt_bucket};
  }
  std::map<PoolKey, std::unique_ptr<CudaStepRunner>> idle_;  // guarded by mu_
  mutable std::mutex mu_;
  cublasLtHandle_t lt_ = nullptr;
  std::map<cuda::Storage, std::unique_ptr<cuda::DeviceWeights>> weights_;
  std::map<CompileKey, std::shared_ptr<const cuda::CudaExecutable>> plans_;
};

}  // namespace jitgen
