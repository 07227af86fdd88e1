#include "jitgen/engine.h"

#include <fmt/format.h>

#include "graph/plan_store.h"
#include "models/model_impl.h"

namespace jitgen {

Engine::Engine(Model model, EngineOptions options) : model_(std::move(model)), options_(std::move(options)) {
  if (options_.prompt_bucket < 1)
    throw_invalid_argument(fmt::format("prompt bucket must be >= 1, got {}", options_.prompt_bucket));
  if (!options_.plan_cache_dir.empty()) {
    const Model::Impl& m = model_.impl();
    m.compile_cache->set_store(
        std::make_shared<PlanStore>(options_.plan_cache_dir, model_fingerprint(m), weights_by_name(m)));
  }
}

GenerateOutput Engine::generate(const GenerateInput& input, const GenerationConfig& config, const StepCallback& on_step,
                                const Tokenizer* tokenizer) const {
  GenerateOptions o;
  o.on_step = on_step;
  o.mode = options_.mode;
  o.device = options_.device;
  o.prompt_bucket = options_.prompt_bucket;
  o.profile = options_.profile;
  o.tokenizer = tokenizer;
  return jitgen::generate(model_, input, config, o);
}

EngineCacheStats Engine::cache_stats() const {
  const CompileCache& cache = *model_.impl().compile_cache;
  const CacheStats s = cache.stats();
  return {static_cast<int64_t>(cache.entries().size()), s.hits, s.misses, s.loaded_from_disk, s.compile_ms};
}

std::string Engine::dump_graphs() const {
  std::string out;
  for (const auto& [key, exe] : model_.impl().compile_cache->entries()) {
    const PassStats& p = exe->pass_stats();
    const MemoryPlan& m = exe->memory_plan();
    out += fmt::format(
        "== plan {}: {} kernels; fused: {} embedding, {} activation, {} residual epilogues; {} dead nodes removed; "
        "arena {} KiB (unplanned {} KiB)\n",
        key.str(), exe->kernel_count(), p.fused_embeddings, p.fused_activations, p.fused_residuals, p.removed_dead,
        m.arena_bytes / 1024, m.naive_bytes / 1024);
    out += exe->graph().dump();
  }
  return out;
}

}  // namespace jitgen
