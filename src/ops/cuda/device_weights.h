#pragma once
// Weights on the device: each host fp32 weight is converted to the storage type and uploaded once, on first
// use, then shared by every plan and runner of the model (tied weights share one copy: keyed by host address).
#include <map>
#include <mutex>

#include "core/tensor.h"
#include "ops/cuda/kernels.h"
#include "runtime/cuda_runtime.h"

namespace jitgen::cuda {

class DeviceWeights {
 public:
  explicit DeviceWeights(Storage storage) : storage_(storage) {}
  // The device copy of `host` (F32). Thread-safe; the pointer lives as long as this object.
  const void* get(const Tensor& host);
  // An fp32 device copy whatever the storage: tensors whose precision the math needs (RoPE frequencies; HF keeps
  // inv_freq an fp32 buffer in half-precision models too).
  const float* get_f32(const Tensor& host);
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
  size_t bytes_ = 0;
};

}  // namespace jitgen::cuda
