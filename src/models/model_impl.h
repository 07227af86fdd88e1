#pragma once
// What a jitgen::Model holds. Internal: the generation layer and the runners read it.
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
};

}  // namespace jitgen
