#include "graph/compile_cache.h"

#include <chrono>

#include <fmt/format.h>

#include "graph/plan_store.h"

namespace jitgen {

std::string CompileKey::str() const {
  return fmt::format("{}/{}/B={}/T={}/S={}/{}{}{}", device, dtype, rows, step_tokens, capacity,
                     last_only ? "last" : "all", select.empty() ? "" : "/", select);
}

CacheLookup CompileCache::get_or_compile(const CompileKey& key, const InputDecls& inputs,
                                         const std::function<Graph()>& trace) {
  // Compiling under the lock keeps "compile once per key" simple; compiles are milliseconds.
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) {
    ++stats_.hits;
    return {it->second, true, false, 0};
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::shared_ptr<const Executable> exe = store_ ? store_->load(key, inputs) : nullptr;
  const bool from_disk = exe != nullptr;
  if (!exe) {
    exe = Executable::compile(trace());
    if (store_) store_->save(key, *exe);
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  entries_.emplace(key, exe);
  ++stats_.misses;
  stats_.loaded_from_disk += from_disk ? 1 : 0;
  stats_.compile_ms += ms;
  return {exe, false, from_disk, ms};
}

void CompileCache::set_store(std::shared_ptr<const PlanStore> store) {
  std::lock_guard<std::mutex> lock(mu_);
  store_ = std::move(store);
}

void CompileCache::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
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
