#include "graph/compile_cache.h"

#include <chrono>

#include <fmt/format.h>

namespace jitgen {

std::string CompileKey::str() const {
  return fmt::format("{}/{}/B={}/T={}/S={}/{}", device, dtype, rows, step_tokens, capacity,
                     last_only ? "last" : "all");
}

CacheLookup CompileCache::get_or_compile(const CompileKey& key, const std::function<Graph()>& trace) {
  // Compiling under the lock keeps "compile once per key" simple; compiles are milliseconds.
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) {
    ++stats_.hits;
    return {it->second, true, 0};
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto exe = Executable::compile(trace());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  entries_.emplace(key, exe);
  ++stats_.misses;
  stats_.compile_ms += ms;
  return {exe, false, ms};
}

CacheStats CompileCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::vector<std::pair<CompileKey, std::shared_ptr<const Executable>>> CompileCache::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {entries_.begin(), entries_.end()};
}

}  // namespace jitgen
