#include "exec/step_plan.h"

#include <fmt/format.h>

#include "graph/tracing_builder.h"
#include "models/model_impl.h"

namespace jitgen {

CacheLookup compile_step(const Model& model, int rows, int step_tokens, int capacity, bool last_only,
                              const std::string& select) {
  const ModelSpec& c = model.impl().spec();
  JITGEN_CHECK(select.empty() || last_only);
  const cpu::PreparedWeights* prepared = model.impl().model->prepared();  // the weight format changes the kernels
  const CompileKey key{"cpu", prepared ? prepared->format().name() : "f32", rows, step_tokens, capacity, last_only, select};
  const Shape cache{rows, c.n_kv_head, capacity, c.head_dim};
  InputDecls inputs;
  inputs["input_ids"] = {{rows, step_tokens}, DType::kI32};
  inputs["position_ids"] = {{rows, step_tokens}, DType::kI32};
  inputs["cache_pos"] = {{rows}, DType::kI32};
  inputs["key_mask"] = {{rows, capacity}, DType::kI32};
  for (int l = 0; l < c.n_layer; ++l) {
    inputs[fmt::format("k_cache.{}", l)] = {cache, DType::kF32};
    inputs[fmt::format("v_cache.{}", l)] = {cache, DType::kF32};
  }
  if (!select.empty()) inputs["select_state"] = {{1}, DType::kI32};  // opaque: the bound TokenSelect
  return model.impl().compile_cache->get_or_compile(key, inputs, [&] {
    TracingBuilder tb;
    for (const auto& [name, decl] : inputs) tb.declare(name, decl.first, decl.second);
    const FamilyModel& m = *model.impl().model;
    return tb.finish(select.empty() ? m.build(tb, last_only) : build_generation_step(tb, m, select == "beam"));
  });
}

std::vector<void*> bind_step_inputs(const Executable& exe, const StepBuffers& buffers) {
  std::vector<void*> ptrs;
  for (const std::string& name : exe.input_names()) {
    void* p = nullptr;
    if (name == "input_ids") p = buffers.ids;
    else if (name == "position_ids") p = buffers.positions;
    else if (name == "cache_pos") p = buffers.cache_pos;
    else if (name == "key_mask") p = buffers.key_mask;
    else if (name.rfind("k_cache.", 0) == 0) p = buffers.k.at(std::stoi(name.substr(8)));
    else if (name.rfind("v_cache.", 0) == 0) p = buffers.v.at(std::stoi(name.substr(8)));
    else if (name == "select_state") p = buffers.select;
    JITGEN_CHECK(p != nullptr);
    ptrs.push_back(p);
  }
  return ptrs;
}

}  // namespace jitgen
