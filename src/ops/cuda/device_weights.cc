#include "ops/cuda/device_weights.h"

#include "ops/cuda/quant_layout.h"
#include "ops/quant.h"

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

const DeviceQuantView& DeviceWeights::quant(const std::shared_ptr<const cpu::QuantLinear>& w) {
  JITGEN_CHECK(w != nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = quant_.find(w.get());
  if (it != quant_.end()) return it->second->view;
  const DeviceQuantMatrix d = to_device_layout(*w);
  auto copy = std::make_unique<QuantCopy>();
  copy->host = w;
  auto upload = [&](DeviceBuffer& buf, const void* src, size_t bytes) {
    if (bytes == 0) return;
    buf = DeviceBuffer(bytes);
    JITGEN_CUDA_CHECK(cudaMemcpy(buf.data(), src, bytes, cudaMemcpyHostToDevice));
    bytes_ += bytes;
  };
  upload(copy->codes, d.codes.data(), d.codes.size());
  upload(copy->scales, d.scales.data(), d.scales.size() * sizeof(uint16_t));
  upload(copy->zeros, d.zeros.data(), d.zeros.size());
  upload(copy->perm, d.perm.data(), d.perm.size() * sizeof(int32_t));
  DeviceQuantView& v = copy->view;
  v.bits = d.bits;
  v.scale_f16 = d.scale_f16;
  v.K = d.K;
  v.N = d.N;
  v.G = d.G;
  v.Gd = d.Gd;
  v.groups = d.groups;
  v.row_bytes = d.row_bytes;
  v.zero_const = d.zero_const;
  v.codes = copy->codes.as<uint8_t>();
  v.scales = copy->scales.as<uint16_t>();
  v.zeros = d.zeros.empty() ? nullptr : copy->zeros.as<uint8_t>();
  v.perm = d.perm.empty() ? nullptr : copy->perm.as<int32_t>();
  return quant_.emplace(w.get(), std::move(copy)).first->second->view;
}

size_t DeviceWeights::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace jitgen::cuda
