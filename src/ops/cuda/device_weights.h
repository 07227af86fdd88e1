#pragma once
// Weights on the device: each host fp32 weight is converted to the storage type and uploaded once, on first
// use, then shared by every plan and runner of the model (tied weights share one copy: keyed by host address).
#include <map>
#include <memory>
#include <mutex>

#include "core/tensor.h"
#include "ops/cuda/kernels.h"
#include "ops/cuda/quant_gemm.h"
#include "runtime/cuda_runtime.h"

namespace jitgen::cpu {
struct QuantLinear;
}

namespace jitgen::cuda {

class DeviceWeights {
 public:
  explicit DeviceWeights(Storage storage) : storage_(storage) {}
  // The device copy of `host` (F32). Thread-safe; the pointer lives as long as this object.
  const void* get(const Tensor& host);
  // An fp32 device copy whatever the storage: tensors whose precision the math needs (RoPE frequencies; HF keeps
  // inv_freq an fp32 buffer in half-precision models too).
  const float* get_f32(const Tensor& host);
  // The device copy of a quantized linear (the CPU panels a --quantize load or a GPTQ / AWQ checkpoint prepared,
  // ops/prepared_weights.h), repacked into the device layout (ops/cuda/quant_layout.h) and uploaded once. Its fp32
  // tensor is never uploaded unless another op reads it (a tied embedding).
  const DeviceQuantView& quant(const std::shared_ptr<const cpu::QuantLinear>& w);
  Storage storage() const { return storage_; }
  size_t bytes() const;

 private:
  mutable std::mutex mu_;
  Storage storage_;
  struct Copy {
    Tensor host;  // keeps the host memory (the key) from being freed and reused by another weight
    DeviceBuffer device;
  };
  std::map<const void*, Copy> copies_, f32_copies_;
  struct QuantCopy {
    std::shared_ptr<const cpu::QuantLinear> host;  // keeps the key alive
    DeviceBuffer codes, scales, zeros, perm;
    DeviceQuantView view;
  };
  std::map<const void*, std::unique_ptr<QuantCopy>> quant_;
  size_t bytes_ = 0;
};

}  // namespace jitgen::cuda
