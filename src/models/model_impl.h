#pragma once
// What a jitgen::Model holds. Internal: the generation layer and the runners read it.
#include <string>

#include <nlohmann/json.hpp>

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
};

}  // namespace jitgen
