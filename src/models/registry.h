#pragma once
// The family registry: config.json "model_type" -> Family (models/family.h).
#include <string>
#include <vector>

#include "models/family.h"

namespace jitgen {

// Every registered family, in a fixed order (the first one's first preset is the built-in default's family).
const std::vector<Family>& families();
// The family for a model_type; throws kInvalidFile "<where>: model_type "x" is not supported (supported: ...)".
const Family& family_for(const std::string& model_type, const std::string& where);
// The family of a preset: "family:preset", or the family listing `preset` (family empty); `name` gets the preset
// without its family prefix. Throws kInvalidArgument listing every preset.
const Family& family_for_preset(const std::string& family, const std::string& preset, std::string& name);
// "tiny, gpt2, ..., smollm2-135m, ..." for messages and --help.
std::string all_presets();
// "gpt2, llama, ..." for messages and --help.
std::string supported_model_types();

}  // namespace jitgen
