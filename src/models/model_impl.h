#pragma once
// What a jitgen::Model holds. Internal: the generation layer and the runners read it, through ModelSpec and the
// FamilyModel interface only (models/family.h).
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "graph/compile_cache.h"
#include "jitgen/model.h"
#include "models/family.h"
#include "models/spec.h"

namespace jitgen {

struct Model::Impl {
  std::shared_ptr<const FamilyModel> model;  // the family's loaded model (weights, config, build)
  const ModelSpec& spec() const { return model->spec(); }
  nlohmann::json generation_defaults = nlohmann::json::object();  // generation_config.json as found
  ModelInfo info;
  std::string source;
  // model_fingerprint's answer, computed at load: it samples every weight's values, and a released linear weight
  // (ops/prepared_weights.h) has none left to read.
  std::string fingerprint;
  // Compiled plans of this model, shared by every generation on it (the pointee is thread-safe).
  std::shared_ptr<CompileCache> compile_cache = std::make_shared<CompileCache>();
  // CUDA builds: device weights and CUDA plans (exec/cuda/cuda_model_state.h), created on first use.
  mutable std::shared_ptr<void> cuda_state;
};

// Identifies a model for on-disk plans: config, weight names, shapes and a sample of every weight's values, as
// they were at load.
std::string model_fingerprint(const Model::Impl& m);
// The last step of a load: fingerprint the weights (loaders release each packed weight's fp32 data as they pack it,
// unless the format keeps them; a released one's fingerprint bytes were kept at release).
void finish_load(Model::Impl& m);
// Every weight under its HF name, as the family's build() binds it.
std::map<std::string, Tensor> weights_by_name(const Model::Impl& m);

}  // namespace jitgen
