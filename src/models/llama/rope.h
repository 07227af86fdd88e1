#pragma once
// inv_freq and attention_factor for each supported rope_type, computed as transformers' modeling_rope_utils does
// (_compute_default / linear / dynamic / llama3 / yarn parameters), in fp32 where torch computes in fp32.
#include <vector>

#include "graph/builder.h"
#include "models/llama/config.h"

namespace jitgen::llama {

struct RopeTable {
  std::vector<float> inv_freq;  // [rotary_dim / 2]
  RopeAttrs attrs;              // head_dim, rotary_dim, attention_factor, dynamic NTK parameters
};

RopeTable rope_table(const LlamaConfig& c);

}  // namespace jitgen::llama
