#pragma once
// Shared by every family's random-model maker: a deterministic normal stream per tensor and the writing of an
// HF folder (safetensors, optionally sharded with an index, config.json, generation_config.json, tokenizer).
// The same (seed, tensor name) gives the same bytes on every machine: splitmix64 + Box-Muller, no std::
// distributions.
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "models/family.h"

namespace jitgen {

// t (f32) = mean + std * N(0, 1), deterministic in (seed, name).
void fill_normal(Tensor& t, uint64_t seed, const std::string& name, float mean, float std);
bool ends_with(const std::string& s, const std::string& suffix);

// Writes `tensors` (f32, converted to opt.dtype) in opt.shards files, config.json and generation_config.json, and
// copies opt.tokenizer_dir's vocab.json / merges.txt / tokenizer.json / LICENSE when set.
void write_hf_folder(const std::string& dir, const std::vector<std::pair<std::string, Tensor>>& tensors,
                     const nlohmann::json& config, const nlohmann::json& generation_config,
                     const RandomModelOptions& opt);

}  // namespace jitgen
