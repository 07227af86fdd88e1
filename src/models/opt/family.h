#pragma once
// OPT as a registered family (models/family.h): config.json model_type "opt".
#include "models/family.h"

namespace jitgen {

const Family& opt_family();

}  // namespace jitgen
