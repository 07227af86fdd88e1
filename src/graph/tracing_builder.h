#pragma once
// TracingBuilder: records every Builder call as a Graph node with a static shape. Step inputs and
// states are declared (name, shape, dtype) before the model function runs; the model code is the same
// one the eager builder executes.
#include <map>
#include <string>

#include "graph/builder.h"
#include "graph/graph.h"

namespace jitgen {

class TracingBuilder final : public Builder {
 public:
  void declare(const std::string& name, Shape shape, DType dtype) { declared_[name] = {std::move(shape), dtype}; }
  // The recorded graph with `output` marked.
  Graph finish(Value output);

  Value input(const std::string& name) override;
  Value weight(const Tensor& t, const std::string& name) override;
  Shape shape(Value v) const override;
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

 private:
  Value record(Node n);
  const Node& node(Value v) const;
  std::map<std::string, std::pair<Shape, DType>> declared_;
  std::map<std::string, int> inputs_;  // an input traced twice is one node
  Graph graph_;
};

}  // namespace jitgen
