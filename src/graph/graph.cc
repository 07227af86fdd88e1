#include "graph/graph.h"

#include <fmt/format.h>

#include "graph/op_table.h"

namespace jitgen {

const char* op_name(OpKind op) { return op_def(op).name; }

int Graph::live_count() const {
  int n = 0;
  for (const Node& node : nodes) n += node.dead ? 0 : 1;
  return n;
}

std::string Graph::dump() const {
  std::string out;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (n.dead) continue;
    std::vector<std::string> args;
    for (int in : n.inputs) args.push_back(fmt::format("%{}", in));
    std::string attrs;
    if (!n.name.empty()) attrs += fmt::format(" \"{}\"", n.name);
    if (const auto describe = op_def(n.op).describe) attrs += describe(n);
    out += fmt::format("%{} = {}({}){} : {} {}{}\n", i, op_name(n.op), fmt::join(args, ", "), attrs,
                       shape_str(n.shape), dtype_name(n.dtype), static_cast<int>(i) == output ? "  <- output" : "");
  }
  return out;
}

}  // namespace jitgen
