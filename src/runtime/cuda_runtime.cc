#include "runtime/cuda_runtime.h"

#include <atomic>
#include <utility>

#include <fmt/format.h>

namespace jitgen::cuda {

namespace {
std::atomic<int64_t> g_device_allocations{0};
}  // namespace

void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  throw Error(ErrorCode::kInternal,
              fmt::format("CUDA error {} ({}) in {} at {}:{}", cudaGetErrorName(err), cudaGetErrorString(err), expr,
                          file, line));
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error so later calls report their own
    return 0;
  }
  return n;
}

std::string device_description(int device) {
  require_device();
  cudaDeviceProp p{};
  JITGEN_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  return fmt::format("{} (sm_{}{}, {:.1f} GiB)", p.name, p.major, p.minor,
                     static_cast<double>(p.totalGlobalMem) / (1 << 30));
}

void require_device() {
  if (device_count() == 0)
    throw_invalid_argument("--device cuda: no CUDA device is visible (cudaGetDeviceCount reports 0); use --device cpu");
}

double measure_device_bandwidth_gbps() {
  const size_t bytes = size_t{512} << 20;
  DeviceBuffer a(bytes), b(bytes);
  cudaEvent_t start, stop;
  JITGEN_CUDA_CHECK(cudaEventCreate(&start));
  JITGEN_CUDA_CHECK(cudaEventCreate(&stop));
  JITGEN_CUDA_CHECK(cudaMemcpy(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice));  // warm up
  const int reps = 10;
  JITGEN_CUDA_CHECK(cudaEventRecord(start));
  for (int i = 0; i < reps; ++i) JITGEN_CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice));
  JITGEN_CUDA_CHECK(cudaEventRecord(stop));
  JITGEN_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  JITGEN_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return 2.0 * bytes * reps / (ms * 1e-3) / 1e9;
}

int64_t device_allocation_count() { return g_device_allocations.load(); }

DeviceBuffer::DeviceBuffer(size_t bytes) { reserve(bytes); }

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

bool DeviceBuffer::reserve(size_t bytes) {
  if (bytes <= bytes_ && ptr_) return false;
  if (ptr_) JITGEN_CUDA_CHECK(cudaFree(ptr_));
  ptr_ = nullptr;
  bytes_ = 0;
  const cudaError_t err = cudaMalloc(&ptr_, bytes == 0 ? 1 : bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw_limit(fmt::format("out of GPU memory: cannot allocate {:.1f} MiB; use a smaller batch or fewer new tokens",
                            static_cast<double>(bytes) / (1 << 20)));
  }
  JITGEN_CUDA_CHECK(err);
  bytes_ = bytes;
  ++g_device_allocations;
  return true;
}

PinnedBuffer::PinnedBuffer(size_t bytes, bool mapped) : bytes_(bytes), mapped_(mapped) {
  JITGEN_CUDA_CHECK(cudaHostAlloc(&ptr_, bytes == 0 ? 1 : bytes, mapped ? cudaHostAllocMapped : cudaHostAllocDefault));
}

PinnedBuffer::~PinnedBuffer() {
  if (ptr_) cudaFreeHost(ptr_);
}

PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)), mapped_(o.mapped_) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFreeHost(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
    mapped_ = o.mapped_;
  }
  return *this;
}

void* PinnedBuffer::device_alias() const {
  JITGEN_CHECK(mapped_);
  void* d = nullptr;
  JITGEN_CUDA_CHECK(cudaHostGetDevicePointer(&d, ptr_, 0));
  return d;
}

Stream::Stream() { JITGEN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }

Stream::~Stream() {
  if (stream_) cudaStreamDestroy(stream_);
}

void Stream::synchronize() const { JITGEN_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

CapturedGraph::~CapturedGraph() { reset(); }

void CapturedGraph::reset() {
  if (exec_) cudaGraphExecDestroy(exec_);
  if (graph_) cudaGraphDestroy(graph_);
  exec_ = nullptr;
  graph_ = nullptr;
}

void CapturedGraph::capture(cudaStream_t stream, const std::function<void()>& record) {
  reset();
  // Thread-local mode: other threads may keep using CUDA (e.g. a second generation) while we capture.
  JITGEN_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    record();
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(stream, &broken);
    if (broken) cudaGraphDestroy(broken);
    throw;
  }
  cudaGraph_t graph = nullptr;
  JITGEN_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  adopt(graph);
}

void CapturedGraph::adopt(cudaGraph_t graph) {
  reset();
  graph_ = graph;
  JITGEN_CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0));
}

void CapturedGraph::launch(cudaStream_t stream) {
  JITGEN_CHECK(exec_ != nullptr);
  JITGEN_CUDA_CHECK(cudaGraphLaunch(exec_, stream));
  ++launches_;
}

}  // namespace jitgen::cuda
