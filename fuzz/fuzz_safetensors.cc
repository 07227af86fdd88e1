// Safetensors header and layout: any byte string handed to SafetensorsFile::open either opens (and every
// tensor view lies inside the file, which reading each byte checks under ASan) or throws a jitgen::Error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = jitgen::fuzz::shm_path("model.safetensors");
  jitgen::fuzz::write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));
  jitgen::fuzz::expect_clean([&] {
    auto file = jitgen::io::SafetensorsFile::open(path);
    // Misaligned spans are copied, so views need not point into the mapping; what must hold is that the spans
    // tile the data section exactly (so none reaches past the file), and that every byte of a tensor is readable.
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];
    const uint64_t data_size = size - 8 - header_len;
    uint64_t total = 0;
    volatile uint8_t sink = 0;
    for (const auto& e : file->tensors()) {
      const auto* p = static_cast<const uint8_t*>(e.tensor.data());
      const size_t n = e.tensor.nbytes();
      total += n;
      if (n > 0) sink = sink ^ p[0] ^ p[n - 1];
    }
    if (total != data_size) __builtin_trap();
    for (const auto& [k, v] : file->metadata()) sink = sink ^ static_cast<uint8_t>(k.size() + v.size());
    (void)sink;
  });
  return 0;
}
