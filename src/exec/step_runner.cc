#include "exec/step_runner.h"

#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "exec/compiled_step_runner.h"
#include "exec/eager_step_runner.h"
#include "models/model_impl.h"
#ifdef JITGEN_WITH_CUDA
#include "exec/cuda/cuda_step_runner.h"
#endif

namespace jitgen {

int prompt_positions(const std::vector<int32_t>& mask, std::vector<int32_t>& positions) {
  positions.resize(mask.size());
  int run = 0;
  for (size_t t = 0; t < mask.size(); ++t) {
    run += mask[t];
    positions[t] = mask[t] ? run - 1 : 1;
  }
  return run;
}

const Tensor& StepRunner::decode(const int32_t* tokens, const int32_t* positions) {
  const int B = rows();
  std::vector<std::vector<int32_t>> ids(B, std::vector<int32_t>(1)), pos(B, std::vector<int32_t>(1)),
      mask(B, std::vector<int32_t>(1, 1));
  for (int b = 0; b < B; ++b) {
    ids[b][0] = tokens[b];
    pos[b][0] = positions[b];
  }
  decoded_ = step(ids, pos, mask, true);
  return decoded_;
}

Device default_device() {
  const char* e = std::getenv("JITGEN_DEVICE");
  if (!e || !*e || std::string(e) == "cpu") return Device::kCpu;
  if (std::string(e) == "cuda") return Device::kCuda;
  throw_invalid_argument(fmt::format("JITGEN_DEVICE=\"{}\": expected cpu or cuda", e));
}

std::unique_ptr<StepRunner> make_step_runner(const Model& model, int rows, int capacity, ExecutionMode mode,
                                             int prompt_bucket, Device device) {
  if (device == Device::kCuda) {
#ifdef JITGEN_WITH_CUDA
    // The CUDA runner uploads the fp32 linear weights; a CUDA build keeps them (prepared_weights.h), unless a
    // ScopedWeightFormat said otherwise.
    const cpu::PreparedWeights* prepared = model.impl().model->prepared();
    if (prepared && prepared->any_source_released())
      throw_invalid_argument("device cuda: this model was loaded without its fp32 linear weights (released after "
                             "packing for the CPU); load it with WeightFormat::keep_sources");
    const CudaRunnerOptions options{cuda_storage_from_env(), mode == ExecutionMode::kCompiled, prompt_bucket};
    return make_cuda_step_runner(model, rows, capacity, options);
#else
    throw_invalid_argument("device cuda: this jitgen was built without CUDA (configure with -DJITGEN_CUDA=ON)");
#endif
  }
  if (mode == ExecutionMode::kEager) return std::make_unique<EagerStepRunner>(model, rows, capacity);
  return std::make_unique<CompiledStepRunner>(model, rows, capacity, prompt_bucket);
}

}  // namespace jitgen
