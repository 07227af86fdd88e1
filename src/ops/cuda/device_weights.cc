#include "ops/cuda/device_weights.h"

namespace jitgen::cuda {

const void* DeviceWeights::get(const Tensor& host) {
  JITGEN_CHECK(host.dtype() == DType::kF32);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = copies_.find(host.data());
  if (it != copies_.end()) return it->second.device.data();
  DeviceBuffer buf(static_cast<size_t>(host.numel()) * storage_bytes(storage_));
  upload_converted(storage_, host.f32(), buf.data(), host.numel(), nullptr);
  bytes_ += buf.bytes();
  return copies_.emplace(host.data(), Copy{host, std::move(buf)}).first->second.device.data();
}

const float* DeviceWeights::get_f32(const Tensor& host) {
  if (storage_ == Storage::kF32) return static_cast<const float*>(get(host));
  JITGEN_CHECK(host.dtype() == DType::kF32);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = f32_copies_.find(host.data());
  if (it != f32_copies_.end()) return static_cast<const float*>(it->second.device.data());
  DeviceBuffer buf(static_cast<size_t>(host.numel()) * sizeof(float));
  upload_converted(Storage::kF32, host.f32(), buf.data(), host.numel(), nullptr);
  bytes_ += buf.bytes();
  return static_cast<const float*>(f32_copies_.emplace(host.data(), Copy{host, std::move(buf)}).first->second.device.data());
}

size_t DeviceWeights::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace jitgen::cuda
