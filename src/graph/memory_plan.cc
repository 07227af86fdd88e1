#include "graph/memory_plan.h"

#include <algorithm>

#include "graph/op_table.h"

namespace jitgen {

namespace {
constexpr size_t kAlign = 64;
size_t aligned(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
bool in_arena(const Node& n) { return !n.dead && !op_def(n.op).bound; }
}  // namespace

MemoryPlan plan_memory(const Graph& g) {
  const int N = static_cast<int>(g.nodes.size());
  std::vector<int> last_use(N, -1);
  for (int i = 0; i < N; ++i) {
    const Node& n = g.nodes[i];
    if (n.dead) continue;
    for (int in : n.inputs) last_use[in] = std::max(last_use[in], i);
    if (n.residual >= 0) last_use[n.residual] = std::max(last_use[n.residual], i);
  }
  if (g.output >= 0) last_use[g.output] = N;  // read by the caller after the run

  struct Buf {
    int node;
    size_t size;
    int begin, end;  // inclusive lifetime in node indices
  };
  std::vector<Buf> bufs;
  MemoryPlan plan;
  plan.offset.assign(N, MemoryPlan::kNone);
  for (int i = 0; i < N; ++i) {
    const Node& n = g.nodes[i];
    if (!in_arena(n)) continue;
    const size_t size = aligned(static_cast<size_t>(shape_numel(n.shape)) * dtype_size(n.dtype));
    bufs.push_back({i, size, i, std::max(i, last_use[i])});
    plan.naive_bytes += size;
  }
  // Largest first; each goes to the lowest offset that does not collide with a placed buffer that is
  // alive at the same time.
  std::vector<int> order(bufs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return bufs[a].size > bufs[b].size; });
  std::vector<int> placed;
  for (int bi : order) {
    const Buf& b = bufs[bi];
    std::vector<std::pair<size_t, size_t>> busy;  // [start, end) of overlapping-in-time buffers
    for (int pi : placed) {
      const Buf& p = bufs[pi];
      if (p.end < b.begin || b.end < p.begin) continue;
      busy.emplace_back(plan.offset[p.node], plan.offset[p.node] + p.size);
    }
    std::sort(busy.begin(), busy.end());
    size_t at = 0;
    for (const auto& [s, e] : busy) {
      if (at + b.size <= s) break;
      at = std::max(at, e);
    }
    plan.offset[b.node] = at;
    plan.arena_bytes = std::max(plan.arena_bytes, at + b.size);
    placed.push_back(bi);
  }
  return plan;
}

}  // namespace jitgen
