#pragma once
// Static memory plan: every intermediate of a graph gets a fixed offset in one arena. Buffers whose
// lifetimes [defined at, last used at] overlap never share bytes; the others reuse them (greedy by
// size, the TFLite / XLA heuristic). Inputs, states and weights live outside the arena.
#include <cstddef>
#include <vector>

#include "graph/graph.h"

namespace jitgen {

struct MemoryPlan {
  static constexpr size_t kNone = static_cast<size_t>(-1);
  std::vector<size_t> offset;  // per node: byte offset in the arena, kNone when not arena-allocated
  size_t arena_bytes = 0;
  size_t naive_bytes = 0;      // sum of all intermediates: what an allocator per op would touch
};

MemoryPlan plan_memory(const Graph& g);

}  // namespace jitgen
