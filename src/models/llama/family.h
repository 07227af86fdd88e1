#pragma once
// The Llama family as registered families (models/family.h): config.json model_type "llama", "mistral", "qwen2".
#include "models/family.h"

namespace jitgen {

const Family& llama_family();
const Family& mistral_family();
const Family& qwen2_family();

}  // namespace jitgen
