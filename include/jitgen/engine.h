#pragma once
// Engine: what an application holds — a model, its compile cache (and optional on-disk plan cache) and
// the runtime settings. generate() is safe to call from several threads at once: each call has its own
// KV cache and arena; compiled plans are shared, immutable, and compiled once per shape bucket.
#include <cstdint>
#include <string>

#include "jitgen/error.h"
#include "jitgen/generate.h"
#include "jitgen/model.h"
#include "jitgen/runtime.h"

namespace jitgen {

struct EngineOptions {
  ExecutionMode mode = ExecutionMode::kCompiled;
  Device device = default_device();  // kCuda: a -DJITGEN_CUDA=ON build with a visible GPU
  int prompt_bucket = 8;       // compiled prefill lengths round up to a multiple of this (1 = exact)
  std::string plan_cache_dir;  // empty = plans live in memory only
  bool profile = false;        // per-kernel timing in every GenerateOutput
};

struct EngineCacheStats {
  int64_t plans = 0;             // plans held in memory
  int64_t hits = 0, misses = 0;  // lookups since the model was loaded
  int64_t loaded_from_disk = 0;  // misses served by the plan cache folder
  double compile_ms = 0;         // total time spent compiling (or loading) plans
};

class Engine {
 public:
  explicit Engine(Model model, EngineOptions options = {});

  // HF generate(); `tokenizer` is needed only for stop_strings. Thread-safe.
  GenerateOutput generate(const GenerateInput& input, const GenerationConfig& config,
                          const StepCallback& on_step = nullptr, const Tokenizer* tokenizer = nullptr) const;

  const Model& model() const { return model_; }
  const EngineOptions& options() const { return options_; }
  EngineCacheStats cache_stats() const;
  // Every compiled plan: its key, pass statistics, memory plan and the graph after the passes.
  std::string dump_graphs() const;

 private:
  Model model_;
  EngineOptions options_;
};

}  // namespace jitgen
