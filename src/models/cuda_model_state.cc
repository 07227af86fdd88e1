#include "models/cuda_model_state.h"

#include <chrono>

namespace jitgen {

namespace {
std::mutex g_state_mu;  // guards Model::Impl::cuda_state creation
}  // namespace

CudaModelState::CudaModelState() {
  cuda::require_device();
  cuda::check_cublas(cublasLtCreate(&lt_), "cublasLtCreate");
}

CudaModelState::~CudaModelState() {
  plans_.clear();  // LtGemm descriptors first
  if (lt_) cublasLtDestroy(lt_);
}

CudaModelState& CudaModelState::of(const Model::Impl& model) {
  std::lock_guard<std::mutex> lock(g_state_mu);
  if (!model.cuda_state) model.cuda_state = std::make_shared<CudaModelState>();
  return *static_cast<CudaModelState*>(model.cuda_state.get());
}

cuda::DeviceWeights& CudaModelState::weights(cuda::Storage storage) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& w = weights_[storage];
  if (!w) w = std::make_unique<cuda::DeviceWeights>(storage);
  return *w;
}

CudaPlanLookup CudaModelState::get_or_build(const CompileKey& key, bool fused, cuda::Storage storage,
                                            const std::function<Graph()>& trace) {
  cuda::DeviceWeights& w = weights(storage);
  // One lock for lookup and build: two runners asking for the same plan build it once.
  std::lock_guard<std::mutex> lock(mu_);
  auto it = plans_.find(key);
  if (it != plans_.end()) return {it->second, true, 0};
  const auto t0 = std::chrono::steady_clock::now();
  auto exe = cuda::CudaExecutable::build(trace(), fused, w, lt_);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  plans_[key] = exe;
  return {exe, false, ms};
}

int64_t CudaModelState::plans() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(plans_.size());
}

}  // namespace jitgen
