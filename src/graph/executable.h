#pragma once
// Executable: a graph after passes and memory planning, with one kernel bound per live node. Immutable
// and shareable between threads; each run brings its own arena (Arena) and input pointers.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graph/memory_plan.h"
#include "graph/op_table.h"  // RunContext
#include "graph/passes.h"

namespace jitgen {

class Executable {
 public:
  // Runs passes, plans memory and binds kernels. Throws kInternal on a malformed graph.
  static std::shared_ptr<const Executable> compile(Graph graph);
  // Binds kernels to a graph that already went through the passes and has its memory plan (a plan
  // loaded from disk): no passes, no planning.
  static std::shared_ptr<const Executable> from_plan(Graph graph, MemoryPlan plan, PassStats stats);

  void run(const RunContext& ctx) const;
  // Same, timing every kernel: adds kernel i's milliseconds to ms[i] (ms has kernel_count() entries).
  void run_profiled(const RunContext& ctx, std::vector<double>& ms) const;
  // "linear+gelu_tanh+residual", "attention", ...: what kernel i is, for profiles.
  const std::string& kernel_label(int i) const { return labels_[i]; }

  const std::vector<std::string>& input_names() const { return input_names_; }
  int input_slot(const std::string& name) const;  // -1 when the graph does not read it
  const Shape& output_shape() const { return graph_.nodes[graph_.output].shape; }
  // The output lives in the arena: valid until the next run with the same arena.
  const float* output(const RunContext& ctx) const;
  size_t arena_bytes() const { return plan_.arena_bytes; }
  const MemoryPlan& memory_plan() const { return plan_; }
  const PassStats& pass_stats() const { return stats_; }
  int kernel_count() const { return static_cast<int>(kernels_.size()); }
  const Graph& graph() const { return graph_; }

 private:
  void bind_kernels();

  Graph graph_;
  PassStats stats_;
  MemoryPlan plan_;
  std::vector<std::string> input_names_;
  std::vector<std::function<void(const RunContext&)>> kernels_;
  std::vector<std::string> labels_;
};

}  // namespace jitgen
