#pragma once
// GPT-2 as a registered family (models/family.h): config.json model_type "gpt2".
#include "models/family.h"

namespace jitgen {

const Family& gpt2_family();

}  // namespace jitgen
