#pragma once
// Deterministic random-weight GPT-2 checkpoints in HF format, for tests, benchmarks and the built-in
// default model. The same (config, seed) gives the same bytes on every machine: our own splitmix64 +
// Box-Muller stream per tensor (seeded by the tensor name), no std:: distributions.
#include <string>

#include "core/tensor.h"
#include "models/family.h"
#include "models/gpt2/config.h"
#include "models/gpt2/gpt2.h"

namespace jitgen {

// Init scales chosen so next-token distributions are peaked (top-1 well ahead of top-2), which keeps
// greedy comparisons with HF free of argmax near-ties. See random_gpt2.cc.
Gpt2Weights random_gpt2_weights(const io::Gpt2Config& config, uint64_t seed);

// Writes config.json, generation_config.json, safetensors weights (and tokenizer files) into `dir`. Refuses the
// options check_random_folder_options (models/random_folder.h) refuses.
void write_random_gpt2(const io::Gpt2Config& config, const RandomModelOptions& opt, const std::string& dir);

// Named shapes: "tiny" (2 layers, 64 wide), "gpt2" (124M), "gpt2-medium", "gpt2-large", "gpt2-xl".
io::Gpt2Config gpt2_preset(const std::string& name);

}  // namespace jitgen
