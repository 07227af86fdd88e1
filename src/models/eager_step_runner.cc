#include "models/eager_step_runner.h"

#include <cstring>

#include <fmt/format.h>

#include "graph/eager_builder.h"
#include "models/model_impl.h"

namespace jitgen {

EagerStepRunner::EagerStepRunner(const Model& model, int rows, int capacity)
    : model_(model), rows_(rows), capacity_(capacity) {
  const io::Gpt2Config& c = model.impl().config;
  if (rows < 1) throw_invalid_argument("the batch is empty");
  if (capacity > c.n_positions)
    throw_limit(fmt::format("prompt + new tokens = {} exceeds the model's position table (n_positions = {})",
                            capacity, c.n_positions));
  for (int l = 0; l < c.n_layer; ++l) {
    k_cache_.push_back(Tensor::zeros({rows, c.n_head, capacity, c.head_dim()}));
    v_cache_.push_back(Tensor::zeros({rows, c.n_head, capacity, c.head_dim()}));
  }
  key_mask_ = Tensor::zeros({rows, capacity}, DType::kI32);
}

Tensor EagerStepRunner::step(const std::vector<std::vector<int32_t>>& ids,
                       const std::vector<std::vector<int32_t>>& positions,
                       const std::vector<std::vector<int32_t>>& mask_new, bool last_only) {
  const io::Gpt2Config& c = model_.impl().config;
  JITGEN_CHECK(static_cast<int>(ids.size()) == rows_);
  const int T = static_cast<int>(ids[0].size());
  if (length_ + T > capacity_)
    throw_limit(fmt::format("KV cache full: {} + {} tokens exceed its capacity {}", length_, T, capacity_));
  Tensor ids_t = Tensor::zeros({rows_, T}, DType::kI32);
  Tensor pos_t = Tensor::zeros({rows_, T}, DType::kI32);
  for (int b = 0; b < rows_; ++b) {
    JITGEN_CHECK(static_cast<int>(ids[b].size()) == T);
    for (int t = 0; t < T; ++t) {
      const int32_t id = ids[b][t];
      if (id < 0 || id >= c.vocab_size)
        throw_invalid_argument(fmt::format("token id {} is outside the vocabulary [0, {})", id, c.vocab_size));
      const int32_t p = positions[b][t];
      if (p < 0 || p >= c.n_positions)
        throw_limit(fmt::format("position {} is outside the position table (n_positions = {})", p, c.n_positions));
      ids_t.i32()[b * T + t] = id;
      pos_t.i32()[b * T + t] = p;
      key_mask_.i32()[b * capacity_ + length_ + t] = mask_new[b][t] ? 1 : 0;
    }
  }
  Tensor cache_pos = Tensor::zeros({1}, DType::kI32);
  cache_pos.i32()[0] = length_;

  EagerBuilder b;
  b.bind("input_ids", ids_t);
  b.bind("position_ids", pos_t);
  b.bind("cache_pos", cache_pos);
  b.bind("key_mask", key_mask_);
  for (int l = 0; l < c.n_layer; ++l) {
    b.bind(fmt::format("k_cache.{}", l), k_cache_[l]);
    b.bind(fmt::format("v_cache.{}", l), v_cache_[l]);
  }
  const Value logits = build_gpt2(b, c, model_.impl().weights, last_only);
  length_ += T;
  return b.tensor(logits);
}

void EagerStepRunner::reorder(const std::vector<int>& src) {
  JITGEN_CHECK(static_cast<int>(src.size()) == rows_);
  auto permute_rows = [&](Tensor& t) {
    const size_t row_bytes = t.nbytes() / rows_;
    Tensor copy = Tensor::zeros(t.shape(), t.dtype());
    auto* from = static_cast<const char*>(t.data());
    auto* to = static_cast<char*>(copy.data());
    for (int r = 0; r < rows_; ++r) {
      JITGEN_CHECK(src[r] >= 0 && src[r] < rows_);
      std::memcpy(to + r * row_bytes, from + src[r] * row_bytes, row_bytes);
    }
    std::memcpy(t.data(), copy.data(), t.nbytes());
  };
  for (auto& t : k_cache_) permute_rows(t);
  for (auto& t : v_cache_) permute_rows(t);
  permute_rows(key_mask_);
}

}  // namespace jitgen
