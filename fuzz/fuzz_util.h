#pragma once
// Shared helpers for the libFuzzer harnesses: parsers that take a path get the fuzz input through a
// per-process file in /dev/shm (tmpfs: no disk I/O), rewritten on every run.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "jitgen/error.h"

namespace jitgen::fuzz {

inline std::string shm_path(const char* name) {
  const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return std::string(base) + "/jitgen-fuzz-" + std::to_string(getpid()) + "-" + name;
}

inline void write_file(const std::string& path, std::string_view bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) __builtin_trap();
  std::fclose(f);
}

// Runs `fn`; jitgen::Error with a user-facing code is the expected outcome for bad input. An internal error
// (kInternal, a broken invariant) or any other exception escaping a parser is a finding: abort so libFuzzer
// saves the input.
template <typename Fn>
void expect_clean(Fn&& fn) {
  try {
    fn();
  } catch (const jitgen::Error& e) {
    if (e.code() == jitgen::ErrorCode::kInternal) {
      std::fprintf(stderr, "internal error: %s\n", e.what());
      __builtin_trap();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "non-jitgen exception escaped: %s\n", e.what());
    __builtin_trap();
  }
}

}  // namespace jitgen::fuzz
