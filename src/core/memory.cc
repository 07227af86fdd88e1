#include "core/memory.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#if JITGEN_HUGE_MAPPINGS
#include <sys/mman.h>
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1 (older headers lack it; older kernels answer EINVAL, which settle() ignores)
#endif
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define JITGEN_RESERVATIONS 1
#else
#define JITGEN_RESERVATIONS 0
#endif

namespace jitgen {

namespace {

size_t round64(size_t bytes) { return (std::max<size_t>(bytes, 1) + 63) / 64 * 64; }

std::shared_ptr<void> heap_buffer(size_t bytes) {
  void* p = std::aligned_alloc(64, bytes);
  if (!p) return nullptr;
  std::memset(p, 0, bytes);
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

#if JITGEN_HUGE_MAPPINGS
// A fresh anonymous mapping is zero-filled by the kernel (no memset, which would also fault every page in on 4 KiB
// pages at once). It is over-sized by 2 MiB and the pointer rounded up to a 2 MiB boundary, so that every whole
// 2 MiB block of the buffer can be one huge page. `reserve_only`: a StreamArena chunk, mostly never touched, is not
// charged against the commit limit up front (MAP_NORESERVE).
std::shared_ptr<void> huge_mapping(size_t bytes, bool reserve_only) {
  const size_t len = bytes + kHugeMin;
  void* base = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (reserve_only ? MAP_NORESERVE : 0),
                    -1, 0);
  if (base == MAP_FAILED) return nullptr;
  const uintptr_t start = (reinterpret_cast<uintptr_t>(base) + kHugeMin - 1) & ~(uintptr_t{kHugeMin} - 1);
  void* p = reinterpret_cast<void*>(start);
  madvise(p, bytes, MADV_HUGEPAGE);  // advice only: where THP is not available it changes nothing
  return std::shared_ptr<void>(p, [base, len](void*) { munmap(base, len); });
}
#endif

}  // namespace

std::shared_ptr<void> zeroed_buffer(size_t bytes) {
  bytes = round64(bytes);
#if JITGEN_HUGE_MAPPINGS
  if (bytes >= kHugeMin)
    if (auto p = huge_mapping(bytes, false)) return p;
#endif
  return heap_buffer(bytes);
}

std::shared_ptr<void> address_reservation(size_t bytes) {
#if JITGEN_RESERVATIONS
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t len = (std::max<size_t>(bytes, 1) + page - 1) / page * page;
  void* p = mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  return std::shared_ptr<void>(p, [len](void* q) { munmap(q, len); });
#else
  (void)bytes;
  return nullptr;
#endif
}

std::shared_ptr<void> StreamArena::take(size_t bytes) {
  bytes = round64(bytes);
#if JITGEN_HUGE_MAPPINGS
  if (!chunk_ || size_ - used_ < bytes) {
    // A new chunk with kChunk bytes of room after this request; if so large a reservation is refused (strict
    // overcommit, small machines), one of just this size.
    size_ = bytes + kChunk;
    chunk_ = huge_mapping(size_, size_ > bytes);
    if (!chunk_ && size_ > bytes) chunk_ = huge_mapping(size_ = bytes, false);
    used_ = settled_ = 0;
    if (!chunk_) {
      size_ = 0;
      return nullptr;
    }
  }
  void* p = static_cast<char*>(chunk_.get()) + used_;
  used_ += bytes;
  return std::shared_ptr<void>(chunk_, p);  // aliasing: owns the chunk, points at the buffer
#else
  return heap_buffer(bytes);  // no lazily committed mappings to carve (or ASan): one zeroed allocation each
#endif
}

void StreamArena::settle() {
#if JITGEN_HUGE_MAPPINGS
  if (!chunk_ || used_ <= settled_) return;
  // From the block holding the first byte not yet settled (its start may have been written after the last call) to
  // the end of the block holding the last byte taken; the kernel skips blocks the range covers only in part.
  const size_t from = settled_ / kHugeMin * kHugeMin, to = std::min(size_, (used_ + kHugeMin - 1) / kHugeMin * kHugeMin);
  madvise(static_cast<char*>(chunk_.get()) + from, to - from, MADV_COLLAPSE);
  settled_ = used_;
#endif
}

}  // namespace jitgen
