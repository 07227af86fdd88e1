#include "exec/cuda/cuda_model_state.h"

#include <chrono>
#include <cstdlib>
#include <string>

namespace jitgen {

namespace {
std::mutex g_state_mu;  // guards Model::Impl::cuda_state creation
}  // namespace

CudaModelState::CudaModelState() {
  cuda::require_device();
  cuda::check_cublas(cublasLtCreate(&lt_), "cublasLtCreate");
}

CudaModelState::~CudaModelState() {
  idle_.clear();   // runners hold plans
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

std::unique_ptr<CudaStepRunner> CudaModelState::take_runner(int rows, int capacity, const CudaRunnerOptions& o) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = idle_.find(pool_key(rows, capacity, o));
  if (it == idle_.end()) return nullptr;
  std::unique_ptr<CudaStepRunner> r = std::move(it->second);
  idle_.erase(it);
  return r;
}

void CudaModelState::give_back(std::unique_ptr<CudaStepRunner> runner) {
  runner->reset();
  const PoolKey key = pool_key(runner->rows(), runner->capacity(), runner->options());
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() >= kMaxIdle && !idle_.count(key)) idle_.erase(idle_.begin());  // bounded GPU memory
  idle_[key] = std::move(runner);
}

namespace {

// Forwards to a pooled runner; returns it to the pool on destruction.
class PooledCudaRunner final : public StepRunner {
 public:
  PooledCudaRunner(CudaModelState& pool, std::unique_ptr<CudaStepRunner> r) : pool_(pool), r_(std::move(r)) {}
  ~PooledCudaRunner() override {
    try {
      pool_.give_back(std::move(r_));
    } catch (...) {  // a runner that cannot be reset (a failed device) is simply dropped
    }
  }
  Tensor step(const std::vector<std::vector<int32_t>>& ids, const std::vector<std::vector<int32_t>>& positions,
              const std::vector<std::vector<int32_t>>& mask_new, bool last_only) override {
    return r_->step(ids, positions, mask_new, last_only);
  }
  const Tensor& decode(const int32_t* tokens, const int32_t* positions) override {
    return r_->decode(tokens, positions);
  }
  void reorder(const std::vector<int>& src) override { r_->reorder(src); }
  int rows() const override { return r_->rows(); }
  int capacity() const override { return r_->capacity(); }
  int length() const override { return r_->length(); }
  RunnerStats stats() const override { return r_->stats(); }

 private:
  CudaModelState& pool_;
  std::unique_ptr<CudaStepRunner> r_;
};

bool pool_enabled() {
  const char* e = std::getenv("JITGEN_CUDA_POOL");
  return !(e && std::string(e) == "0");
}

}  // namespace

std::unique_ptr<StepRunner> make_cuda_step_runner(const Model& model, int rows, int capacity,
                                                  const CudaRunnerOptions& options) {
  if (!pool_enabled()) return std::make_unique<CudaStepRunner>(model, rows, capacity, options);
  CudaModelState& state = CudaModelState::of(model.impl());
  std::unique_ptr<CudaStepRunner> r = state.take_runner(rows, capacity, options);
  if (!r) r = std::make_unique<CudaStepRunner>(model, rows, capacity, options);
  return std::make_unique<PooledCudaRunner>(state, std::move(r));
}

int64_t CudaModelState::plans() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(plans_.size());
}

}  // namespace jitgen
