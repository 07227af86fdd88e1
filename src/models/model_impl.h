#pragma once
// What a jitgen::Model holds. Internal: the generation layer and the runners read it.
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "graph/compile_cache.h"
#include "io/hf_config.h"
#include "jitgen/model.h"
#include "models/gpt2.h"

namespace jitgen {

struct Model::Impl {
  io::Gpt2Config config;
  Gpt2Weights weights;
  nlohmann::json generation_defaults = nlohmann::json::object();  // generation_config.json as found
  ModelInfo info;
  std::string source;
  // Compiled plans of this model, shared by every generation on it (the pointee is thread-safe).
  std::shared_ptr<CompileCache> compile_cache = std::make_shared<CompileCache>();
  // CUDA builds: device weights and CUDA plans (models/cuda_model_state.h), created on first use.
  mutable std::shared_ptr<void> cuda_state;
};

// Identifies a model for on-disk plans: config, weight names, shapes and a sample of every weight's values.
std::string model_fingerprint(const Model::Impl& m);
// Every weight under the name build_gpt2 gives it (HF names without the "transformer." prefix).
std::map<std::string, Tensor> gpt2_weights_by_name(const Model::Impl& m);

}  // namespace jitgen
