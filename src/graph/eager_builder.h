#pragma once
// EagerBuilder: runs every Builder call immediately with the CPU kernels (src/ops/cpu). The reference
// execution mode. Values are kept in a per-step table and dropped when the builder dies.
#include <map>
#include <string>
#include <vector>

#include "graph/builder.h"

namespace jitgen {

class EagerBuilder final : public Builder {
 public:
  // Inputs and states are bound by name before the model function runs.
  void bind(const std::string& name, Tensor t) { bindings_[name] = std::move(t); }
  const Tensor& tensor(Value v) const;

  Value input(const std::string& name) override;
  Value weight(const Tensor& t, const std::string& name) override;
  Shape shape(Value v) const override { return tensor(v).shape(); }
  Value embedding(Value table, Value ids) override;
  Value add(Value a, Value b) override;
  Value layer_norm(Value x, Value gamma, Value beta, float eps) override;
  Value linear(Value x, Value w, Value bias) override;
  Value linear_transposed(Value x, Value w) override;
  Value rms_norm(Value x, Value gamma, float eps) override;
  Value mul(Value a, Value b) override;
  Value rope(Value x, Value positions, Value inv_freq, const RopeAttrs& attrs) override;
  Value attention_qkv(Value q, Value k, Value v, Value k_cache, Value v_cache, Value cache_pos, Value key_mask,
                      const AttentionAttrs& attrs) override;
  Value activation(Value x, Activation kind) override;
  Value attention(Value qkv, Value k_cache, Value v_cache, Value cache_pos, Value key_mask, int n_head,
                  float scale) override;
  Value last_position(Value x) override;
  Value select_tokens(Value logits, Value select_state) override;
  Value reorder_rows(Value tokens, Value select_state, Value cache_pos, int step_tokens,
                     const std::vector<Value>& states) override;
  // The TokenSelect that select_tokens runs (the "select_state" input is bound as a placeholder tensor).
  void bind_select(TokenSelect* select) { select_ = select; }

 private:
  Value push(Tensor t);
  std::map<std::string, Tensor> bindings_;
  std::vector<Tensor> values_;
  TokenSelect* select_ = nullptr;
};

}  // namespace jitgen
