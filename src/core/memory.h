#pragma once
// Zeroed, 64-byte aligned memory for packed weights, laid out for one core's streaming reads.
//
// Why: batch-1 decode reads every weight once per token, and how fast one core streams depends on the pages and
// on the order of the bytes. Measured on a 2-core Zen 4 VM (2026-11-30; bench/results/llama-smollm2/README.md has
// the probe): one 256 MiB buffer read front to back at 17-21 GB/s on 4 KiB pages and at 31-35 GB/s on 2 MiB
// pages (a 4 KiB page boundary costs a TLB miss, a two-level page walk under virtualization); SmolLM2-135M's 211
// bf16 matrices read in execution order at 19-20 GB/s when each is its own 2 MiB-aligned allocation and at 25-28
// GB/s when they lie back to back (the hardware prefetcher runs on from one matrix into the next).
//
// So: buffers of kHugeMin bytes or more are their own anonymous mapping, 2 MiB aligned and marked MADV_HUGEPAGE
// (Linux; elsewhere, or if mmap fails, aligned_alloc + memset); a StreamArena hands out buffers back to back in
// request order. Where transparent huge pages are off ("never") the advice is a no-op. Under AddressSanitizer every
// buffer comes from the heap instead, where its redzones catch a kernel reading past a buffer (inside a mapping or
// an arena chunk such a read would go unnoticed).
#include <cstddef>
#include <memory>

// JITGEN_SANITIZE_BUILD (CMake JITGEN_SANITIZE) as well as the compiler's flag: that build's tests are not instrumented
// themselves, and must see the same layout as the library.
#if defined(__linux__) && !defined(__SANITIZE_ADDRESS__) && !defined(JITGEN_SANITIZE_BUILD)
#define JITGEN_HUGE_MAPPINGS 1
#else
#define JITGEN_HUGE_MAPPINGS 0
#endif

namespace jitgen {

// Whether large buffers are huge-page mappings and StreamArena buffers lie back to back (else: heap buffers).
inline constexpr bool kHugeMappings = JITGEN_HUGE_MAPPINGS;

inline constexpr size_t kHugeMin = size_t{2} << 20;  // 2 MiB: smaller buffers come from the heap

// `bytes` zeroed bytes (at least 1), 64-byte aligned; the pointer owns them. Returns nullptr when out of memory.
std::shared_ptr<void> zeroed_buffer(size_t bytes);

// `bytes` of address space that holds no memory and faults on any access (PROT_NONE, MAP_NORESERVE): the stand-in a
// released weight's tensor points at (ops/prepared_weights.h PreparedWeights::release_source). While the pointer
// lives no allocation can take these addresses, so the address stays a unique key, and a read through a stale
// pointer crashes at once instead of returning another buffer's bytes. Null where there is no mmap (not Linux) or
// it fails.
std::shared_ptr<void> address_reservation(size_t bytes);

// Zeroed buffers placed one after another (64-byte aligned) in large huge-page chunks, so that buffers taken in
// the order a kernel later reads them form one continuous stream. Each buffer shares ownership of its chunk: a
// chunk is freed when the arena and every buffer taken from it are gone. Not thread-safe.
class StreamArena {
 public:
  // A new chunk holds the request that did not fit plus this much room for the next ones. Untouched chunk tails
  // are only reserved address space: anonymous pages are committed when first written.
  static constexpr size_t kChunk = size_t{256} << 20;

  // `bytes` zeroed bytes (at least 1) right after the previous buffer when they fit in its chunk. Returns nullptr
  // when out of memory.
  std::shared_ptr<void> take(size_t bytes);

  // Call after writing the buffers taken so far: asks the kernel (MADV_COLLAPSE, Linux 6.1+) to move every 2 MiB block
  // they touch that is still on 4 KiB pages onto a huge page now. Why: a first write gets a huge page only if one is
  // free at that moment; while a large model loads (its checkpoint in the page cache, its fp32 copies being made)
  // the kernel may find none and fall back to 4 KiB pages for good, and khugepaged would take hours to mend 4 GB.
  // Blocks already huge cost a page-table check; where the kernel cannot do it, nothing changes (advice only).
  void settle();

 private:
  std::shared_ptr<void> chunk_;  // the chunk being filled
  size_t used_ = 0, size_ = 0;
  size_t settled_ = 0;  // bytes of chunk_ that settle() has already covered
};

}  // namespace jitgen
