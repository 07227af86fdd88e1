#include "exec/eager_step_runner.h"

#include <algorithm>

#include <fmt/format.h>

#include "graph/eager_builder.h"
#include "models/model_impl.h"

namespace jitgen {

EagerStepRunner::EagerStepRunner(const Model& model, int rows, int capacity)
    : model_(model), cache_(model.impl().spec(), rows, 0), max_capacity_(capacity) {
  check_request(model.impl().spec(), rows, capacity);  // the cache grows later: check its final size now
}

Tensor EagerStepRunner::step(const std::vector<std::vector<int32_t>>& ids,
                             const std::vector<std::vector<int32_t>>& positions,
                             const std::vector<std::vector<int32_t>>& mask_new, bool last_only) {
  const ModelSpec& c = model_.impl().spec();
  const int T = static_cast<int>(ids.at(0).size());
  if (length_ + T > max_capacity_)
    throw_limit(fmt::format("KV cache full: {} + {} tokens exceed its capacity {}", length_, T, max_capacity_));
  cache_.grow_to(length_ + T);
  PackedStep packed = pack_step(c, cache_, length_, ids, positions, mask_new);
  Tensor cache_pos = Tensor::zeros({static_cast<int64_t>(ids.size())}, DType::kI32);
  std::fill_n(cache_pos.i32(), ids.size(), length_);  // every row writes at the same slot

  EagerBuilder b;
  b.bind("input_ids", packed.ids);
  b.bind("position_ids", packed.positions);
  b.bind("cache_pos", cache_pos);
  b.bind("key_mask", cache_.key_mask);
  for (int l = 0; l < c.n_layer; ++l) {
    b.bind(fmt::format("k_cache.{}", l), cache_.k[l]);
    b.bind(fmt::format("v_cache.{}", l), cache_.v[l]);
  }
  Value logits;
  if (last_only && select_) {  // the same generation step the compiled runner traces, executed op by op
    b.bind("select_state", Tensor::zeros({1}, DType::kI32));
    b.bind_select(select_);
    logits = build_generation_step(b, *model_.impl().model, beam_);
  } else {
    logits = model_.impl().model->build(b, last_only);
  }
  length_ += T;
  return b.tensor(logits);
}

}  // namespace jitgen
