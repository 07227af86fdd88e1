#pragma once
// A compiled model step: its named inputs, its executable from the model's compile cache, and the binding of
// those inputs to the buffers of whoever runs it (a CompiledStepRunner, a SlotBatch). One place knows the
// input names FamilyModel::build reads (models/family.h).
#include <string>
#include <vector>

#include "graph/compile_cache.h"
#include "jitgen/model.h"

namespace jitgen {

// The buffers a step reads and writes: [B, T] ids and positions, [B] KV write slots, [B, S] key mask, and
// per-layer K and V caches [B, KV, S, D].
struct StepBuffers {
  void* ids = nullptr;
  void* positions = nullptr;
  void* cache_pos = nullptr;
  void* key_mask = nullptr;
  std::vector<void*> k, v;  // [n_layer]
  TokenSelect* select = nullptr;  // plans with a token choice
};

// The executable for (rows, step_tokens, capacity, last_only), compiled on a miss. With a `select` kind
// ("greedy" / "sample" / "beam"; needs last_only) the step ends with the token choice (and for "beam" the KV rows
// following their beams) and outputs tokens [B] i32.
CacheLookup compile_step(const Model& model, int rows, int step_tokens, int capacity, bool last_only,
                              const std::string& select = "");

// The input pointers of `exe` in its input_names() order (RunContext::inputs).
std::vector<void*> bind_step_inputs(const Executable& exe, const StepBuffers& buffers);

}  // namespace jitgen
