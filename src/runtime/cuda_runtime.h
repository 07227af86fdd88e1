#pragma once
// CUDA runtime pieces shared by the CUDA kernels, executable and step runner (JITGEN_CUDA builds only):
// error checks that throw jitgen errors naming the CUDA call, file and line; RAII device / pinned
// buffers; a stream; a captured CUDA graph. Nothing here launches a kernel.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "jitgen/error.h"

namespace jitgen::cuda {

// Throws Error(kInternal) with the CUDA error string, the failing expression and where it was.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line);

#define JITGEN_CUDA_CHECK(expr)                                                       \
  do {                                                                                \
    const cudaError_t jitgen_cuda_err_ = (expr);                                      \
    if (jitgen_cuda_err_ != cudaSuccess)                                              \
      ::jitgen::cuda::throw_cuda_error(jitgen_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)

// Number of usable devices; 0 (never an exception) when there is no driver or no GPU, so that tests can
// skip and the CLI can say "no CUDA device" in one line.
int device_count();
// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)"; throws when there is no device.
std::string device_description(int device = 0);
// Throws kInvalidArgument with an actionable message when no device is present.
void require_device();

// Device-to-device copy bandwidth (read + write bytes / time) of a 512 MiB copy: the HBM roofline probe.
double measure_device_bandwidth_gbps();

// Device allocations made through DeviceBuffer since the process started: tests use it to prove that a
// decode step allocates nothing.
int64_t device_allocation_count();

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return ptr_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }
  // Grows (never shrinks) to at least `bytes`; the contents are lost when it reallocates. Returns true then.
  bool reserve(size_t bytes);

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Page-locked host memory (async copies need it; CUDA graphs capture its address). `mapped` also maps it
// into the device address space, so kernels can write it directly (the streaming token ring).
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes, bool mapped = false);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* data() const { return ptr_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  void* device_alias() const;  // mapped buffers only
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  bool mapped_ = false;
};

class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }
  void synchronize() const;

 private:
  cudaStream_t stream_ = nullptr;
};

// A CUDA graph captured once from whatever `record` enqueues on `stream`, then replayed. Pointers and
// launch shapes are frozen at capture: inputs must live in fixed buffers updated before each launch.
class CapturedGraph {
 public:
  CapturedGraph() = default;
  ~CapturedGraph();
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;

  void capture(cudaStream_t stream, const std::function<void()>& record);
  // Takes ownership of a graph built by hand (e.g. with a conditional node) and instantiates it.
  void adopt(cudaGraph_t graph);
  void launch(cudaStream_t stream);
  bool ready() const { return exec_ != nullptr; }
  int64_t launches() const { return launches_; }
  void reset();

 private:
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  int64_t launches_ = 0;
};

}  // namespace jitgen::cuda
