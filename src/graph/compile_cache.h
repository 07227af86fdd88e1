#pragma once
// CompileCache: compiled executables keyed by everything that changes the graph (DESIGN.md §3): device,
// dtype, batch rows, tokens per step (the prompt-length bucket), KV capacity bucket, which logits are
// produced. Values that are runtime inputs (token ids, positions, masks, generation parameters) are not
// in the key and never recompile. Thread-safe: two threads asking for the same key compile it once.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "graph/executable.h"

namespace jitgen {

struct CompileKey {
  std::string device = "cpu";
  std::string dtype = "f32";  // the weight format the kernels read: f32, bf16, int8, int4-g128, ... (WeightFormat::name)
  int rows = 0;        // B
  int step_tokens = 0; // T: the prompt-length bucket for prefill, 1 for decode
  int capacity = 0;    // S: the KV capacity bucket
  bool last_only = true;
  // The token choice traced into the step: "" (the step ends at the logits), "greedy" or "sample". Which
  // processors are on, and their values, are runtime state of the select kernel: they never recompile.
  std::string select;

  std::string str() const;  // "cpu/f32/B=2/T=8/S=64/last", + "/greedy" with a select
  auto tie() const { return std::tie(device, dtype, rows, step_tokens, capacity, last_only, select); }
  bool operator<(const CompileKey& o) const { return tie() < o.tie(); }
};

struct CacheLookup {
  std::shared_ptr<const Executable> exe;
  bool hit = false;
  bool from_disk = false;  // a miss served by the plan store
  double compile_ms = 0;   // trace + passes + plan + bind (or load + check + bind); 0 on a hit
};

struct CacheStats {
  int64_t hits = 0, misses = 0, loaded_from_disk = 0;
  double compile_ms = 0;
};

// The step inputs a plan reads: name -> (shape, dtype).
using InputDecls = std::map<std::string, std::pair<Shape, DType>>;
class PlanStore;

class CompileCache {
 public:
  // `trace` records the graph for `key`, reading exactly `inputs`.
  CacheLookup get_or_compile(const CompileKey& key, const InputDecls& inputs, const std::function<Graph()>& trace);
  // Plans missing in memory are looked up in (and saved to) this store; null = memory only.
  void set_store(std::shared_ptr<const PlanStore> store);
  CacheStats stats() const;
  // Drops every plan held in memory (benchmarks use it to start cold; the plan store is kept).
  void clear();
  // Snapshot of the cached keys and executables (for --dump-graph and reports).
  std::vector<std::pair<CompileKey, std::shared_ptr<const Executable>>> entries() const;

 private:
  mutable std::mutex mu_;
  std::map<CompileKey, std::shared_ptr<const Executable>> entries_;
  std::shared_ptr<const PlanStore> store_;
  CacheStats stats_;
};

}  // namespace jitgen
