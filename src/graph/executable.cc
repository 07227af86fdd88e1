#include "graph/executable.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "graph/op_table.h"

namespace jitgen {

int Executable::input_slot(const std::string& name) const {
  auto it = std::find(input_names_.begin(), input_names_.end(), name);
  return it == input_names_.end() ? -1 : static_cast<int>(it - input_names_.begin());
}

const float* Executable::output(const RunContext& ctx) const {
  return reinterpret_cast<const float*>(ctx.arena + plan_.offset[graph_.output]);
}

void Executable::run(const RunContext& ctx) const {
  JITGEN_CHECK(ctx.inputs.size() == input_names_.size());
  for (const auto& k : kernels_) k(ctx);
}

void Executable::run_profiled(const RunContext& ctx, std::vector<double>& ms) const {
  JITGEN_CHECK(ctx.inputs.size() == input_names_.size() && ms.size() == kernels_.size());
  for (size_t i = 0; i < kernels_.size(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    kernels_[i](ctx);
    ms[i] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
}

namespace {
// "linear+act+residual", "attention", ...: the op and the epilogues fusion folded into it.
std::string kernel_label_of(const Node& n) {
  std::string label = op_name(n.op);
  if (n.has_act) label += "+act";
  if (n.residual >= 0) label += "+residual";
  return label;
}
}  // namespace

std::shared_ptr<const Executable> Executable::compile(Graph graph) {
  auto exe = std::shared_ptr<Executable>(new Executable());
  run_default_passes(graph, exe->stats_);
  exe->plan_ = plan_memory(graph);
  exe->graph_ = std::move(graph);
  exe->bind_kernels();
  return exe;
}

std::shared_ptr<const Executable> Executable::from_plan(Graph graph, MemoryPlan plan, PassStats stats) {
  JITGEN_CHECK(plan.offset.size() == graph.nodes.size());
  auto exe = std::shared_ptr<Executable>(new Executable());
  exe->graph_ = std::move(graph);
  exe->plan_ = std::move(plan);
  exe->stats_ = stats;
  exe->bind_kernels();
  return exe;
}

void Executable::bind_kernels() {
  const Graph& g = graph_;
  JITGEN_CHECK(g.output >= 0 && plan_.offset[g.output] != MemoryPlan::kNone);

  std::vector<Ref> refs(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.dead) continue;
    if (n.op == OpKind::kWeight) {
      refs[i] = Ref{Ref::kFixed, 0, -1, const_cast<void*>(n.weight.data())};
    } else if (n.op == OpKind::kInput) {
      refs[i] = Ref{Ref::kInput, 0, static_cast<int>(input_names_.size()), nullptr};
      input_names_.push_back(n.name);
    } else {
      refs[i] = Ref{Ref::kArena, plan_.offset[i], -1, nullptr};
    }
  }
  // One kernel per live computed node, bound by its op's entry in the op table.
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const OpDef& def = op_def(n.op);
    if (n.dead || def.bound) continue;
    kernels_.push_back(def.bind_cpu(CpuBindArgs{g, n, refs, refs[i]}));
    labels_.push_back(kernel_label_of(n));
  }
}

}  // namespace jitgen
