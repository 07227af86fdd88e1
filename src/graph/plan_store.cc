#include "graph/plan_store.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "graph/op_table.h"

namespace jitgen {

namespace {

using nlohmann::json;

OpKind op_from_name(const std::string& name) {
  if (const OpDef* d = op_def_by_name(name)) return d->op;
  throw std::runtime_error("unknown op \"" + name + "\"");
}

DType dtype_from_name(const std::string& name) {
  for (DType d : {DType::kF32, DType::kF16, DType::kBF16, DType::kI32})
    if (name == dtype_name(d)) return d;
  throw std::runtime_error("unknown dtype \"" + name + "\"");
}

// The integers of a plan file: JSON integers that fit the field. nlohmann's get<int64_t>() of a float beyond the
// int64 range is undefined behaviour (found by fuzzing: -1.9e19 in "offsets"), and get<int>() would wrap a larger
// integer into one that may pass the checks below.
template <typename T>
T integer(const json& v, const char* what) {
  const bool fits = v.is_number_unsigned()  ? std::in_range<T>(v.get<uint64_t>())
                    : v.is_number_integer() ? std::in_range<T>(v.get<int64_t>())
                                            : false;
  if (!fits) throw std::runtime_error(fmt::format("{} is not an integer in range ({})", what, v.type_name()));
  return v.is_number_unsigned() ? static_cast<T>(v.get<uint64_t>()) : static_cast<T>(v.get<int64_t>());
}
template <typename T>
std::vector<T> integers(const json& v, const char* what) {
  if (!v.is_array()) throw std::runtime_error(fmt::format("{} is not an array", what));
  std::vector<T> out;
  for (const json& x : v) out.push_back(integer<T>(x, what));
  return out;
}

// A node as plan files store it: its op, edges, type and name, then every attribute of the op table's list
// (op_table.h attr_defs) whatever the op, as format version 3 has always written them.
json node_to_json(const Node& n) {
  json j = {{"op", op_name(n.op)}, {"in", n.inputs},     {"shape", n.shape},
            {"dtype", dtype_name(n.dtype)}, {"name", n.name}, {"dead", n.dead}};
  for (const AttrDef& a : attr_defs()) {
    const double v = a.get(n);
    switch (a.kind) {
      case AttrDef::kInt: j[a.key] = static_cast<int64_t>(v); break;
      case AttrDef::kFloat: j[a.key] = static_cast<float>(v); break;
      case AttrDef::kBool: j[a.key] = v != 0; break;
    }
  }
  return j;
}

// The attributes of a stored node, each checked against its kind and range. Optional ones (the Llama-family
// attributes) are absent from version-3 plans written before those ops existed and read as their defaults.
void attrs_from_json(const json& j, Node& n) {
  for (const AttrDef& a : attr_defs()) {
    if (!j.contains(a.key)) {
      if (!a.optional) throw std::runtime_error(fmt::format("node has no \"{}\"", a.key));
      a.set(n, a.default_value);
      continue;
    }
    const json& v = j.at(a.key);
    switch (a.kind) {
      case AttrDef::kInt: {
        const int64_t x = integer<int64_t>(v, a.key);
        if (x < a.lo || x > a.hi) throw std::runtime_error(fmt::format("bad {}", a.key));
        a.set(n, static_cast<double>(x));
        break;
      }
      case AttrDef::kFloat: a.set(n, v.get<float>()); break;
      case AttrDef::kBool: a.set(n, v.get<bool>() ? 1 : 0); break;
    }
  }
}

}  // namespace

PlanStore::PlanStore(std::string dir, std::string model_fingerprint, std::map<std::string, Tensor> weights)
    : dir_(std::move(dir)), fingerprint_(std::move(model_fingerprint)), weights_(std::move(weights)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw_invalid_argument(fmt::format("--plan-cache {}: cannot create the folder: {}", dir_, ec.message()));
}

std::string PlanStore::path_for(const CompileKey& key) const {
  std::string k = key.str();
  for (char& c : k)
    if (c == '/' || c == '=') c = '_';
  return fmt::format("{}/{}-{}.plan.json", dir_, fingerprint_, k);
}

void PlanStore::save(const CompileKey& key, const Executable& exe) const {
  const Graph& g = exe.graph();
  json nodes = json::array();
  for (const Node& n : g.nodes) nodes.push_back(node_to_json(n));
  const MemoryPlan& p = exe.memory_plan();
  std::vector<int64_t> offsets;
  for (size_t o : p.offset) offsets.push_back(o == MemoryPlan::kNone ? -1 : static_cast<int64_t>(o));
  const PassStats& s = exe.pass_stats();
  const json doc = {{"format", "jitgen-plan"},
                    {"version", kVersion},
                    {"model", fingerprint_},
                    {"key", key.str()},
                    {"output", g.output},
                    {"nodes", nodes},
                    {"offsets", offsets},
                    {"arena_bytes", p.arena_bytes},
                    {"naive_bytes", p.naive_bytes},
                    {"passes", {s.fused_embeddings, s.fused_activations, s.fused_residuals, s.removed_dead}}};
  const std::string path = path_for(key);
  // Unique per process and thread: two engines saving the same key never share a temp file.
  const std::string tmp = fmt::format("{}.tmp.{}.{}", path, static_cast<long>(::getpid()),
                                      std::hash<std::thread::id>{}(std::this_thread::get_id()));
  {
    std::ofstream out(tmp, std::ios::binary);
    out << doc.dump();
    out.close();  // flushes: a short write must be seen before the rename makes it visible
    if (out.fail()) {
      std::remove(tmp.c_str());
      std::cerr << fmt::format("jitgen: warning: cannot write plan cache file {}\n", path);
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::remove(tmp.c_str());
}

std::shared_ptr<const Executable> PlanStore::load(const CompileKey& key,
                                                  const std::map<std::string, std::pair<Shape, DType>>& inputs) const {
  const std::string path = path_for(key);
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;  // not cached yet: no warning
  try {
    std::stringstream ss;
    ss << in.rdbuf();
    const json doc = json::parse(ss.str());
    if (doc.value("format", "") != "jitgen-plan") throw std::runtime_error("not a jitgen plan");
    const int version = doc.contains("version") ? integer<int>(doc["version"], "version") : 0;
    if (version != kVersion)
      throw std::runtime_error(fmt::format("format version {} (expected {})", version, kVersion));
    if (doc.at("model").get<std::string>() != fingerprint_) throw std::runtime_error("made for another model");
    if (doc.at("key").get<std::string>() != key.str()) throw std::runtime_error("made for another shape bucket");

    Graph g;
    const json& nodes = doc.at("nodes");
    const auto offsets = integers<int64_t>(doc.at("offsets"), "offsets");
    if (offsets.size() != nodes.size()) throw std::runtime_error("offsets and nodes differ in count");
    MemoryPlan plan;
    plan.arena_bytes = integer<size_t>(doc.at("arena_bytes"), "arena_bytes");
    plan.naive_bytes = integer<size_t>(doc.at("naive_bytes"), "naive_bytes");
    size_t buffers_bytes = 0;  // every arena buffer side by side, 64-byte aligned as plan_memory() places them
    for (size_t i = 0; i < nodes.size(); ++i) {
      const json& j = nodes[i];
      Node n{op_from_name(j.at("op").get<std::string>())};
      n.inputs = integers<int>(j.at("in"), "in");
      n.shape = integers<int64_t>(j.at("shape"), "shape");
      n.dtype = dtype_from_name(j.at("dtype").get<std::string>());
      n.name = j.at("name").get<std::string>();
      attrs_from_json(j, n);
      n.dead = j.at("dead").get<bool>();
      for (int x : n.inputs)
        if (x < 0 || x >= static_cast<int>(i) || g.nodes[x].dead) throw std::runtime_error("bad node input");
      if (n.residual >= static_cast<int>(i) || n.residual < -1 || (n.residual >= 0 && g.nodes[n.residual].dead))
        throw std::runtime_error("bad residual");
      for (int64_t d : n.shape)
        if (d < 0 || d > (int64_t{1} << 31)) throw std::runtime_error("bad shape");
      if (n.op == OpKind::kWeight && !n.dead) {
        auto w = weights_.find(n.name);
        if (w == weights_.end() || w->second.shape() != n.shape || w->second.dtype() != n.dtype)
          throw std::runtime_error(fmt::format("weight \"{}\" does not match the model", n.name));
        n.weight = w->second;
      }
      if (n.op == OpKind::kInput && !n.dead) {
        auto d = inputs.find(n.name);
        if (d == inputs.end() || d->second.first != n.shape || d->second.second != n.dtype)
          throw std::runtime_error(fmt::format("input \"{}\" does not match the step", n.name));
      }
      if (!n.dead) {  // the op table's rule, as the tracing builder applied it (throws OpError: a runtime_error)
        const TypeOf t = infer_type(g, n);
        if (t.shape != n.shape || t.dtype != n.dtype) throw std::runtime_error("inconsistent shapes");
      }
      const int64_t off = offsets[i];
      const bool arena_node = !n.dead && !op_def(n.op).bound;
      if (arena_node != (off >= 0)) throw std::runtime_error("memory plan does not match the nodes");
      if (arena_node) {
        // plan_memory places buffers 64-byte aligned; kernels store floats there (found by fuzzing: offset 1482 made
        // a misaligned store, UB).
        if (off % 64 != 0) throw std::runtime_error(fmt::format("offset {} is not 64-byte aligned", off));
        const size_t bytes = static_cast<size_t>(shape_numel(n.shape)) * dtype_size(n.dtype);
        if (static_cast<size_t>(off) + bytes > plan.arena_bytes) throw std::runtime_error("buffer outside the arena");
        buffers_bytes += (bytes + 63) / 64 * 64;
      }
      plan.offset.push_back(off < 0 ? MemoryPlan::kNone : static_cast<size_t>(off));
      g.nodes.push_back(std::move(n));
    }
    // The runner allocates arena_bytes: a plan never needs more than its buffers side by side, so a larger value
    // is corrupt (an arena_bytes of 2^40 made generate fail with "out of memory" instead of rebuilding the plan).
    if (plan.arena_bytes > buffers_bytes)
      throw std::runtime_error(fmt::format("arena of {} bytes is larger than its buffers ({})", plan.arena_bytes,
                                           buffers_bytes));
    g.output = integer<int>(doc.at("output"), "output");
    if (g.output < 0 || g.output >= static_cast<int>(g.nodes.size()) || plan.offset[g.output] == MemoryPlan::kNone)
      throw std::runtime_error("bad output");
    // Buffers alive at the same time never share bytes (plan_memory's invariant). Offsets that alias two of them
    // stay inside the arena, so nothing faults: the plan would silently compute other logits.
    const int N = static_cast<int>(g.nodes.size());
    std::vector<int> last_use(N, -1);
    for (int i = 0; i < N; ++i) {
      if (g.nodes[i].dead) continue;
      for (int x : g.nodes[i].inputs) last_use[x] = std::max(last_use[x], i);
      if (g.nodes[i].residual >= 0) last_use[g.nodes[i].residual] = std::max(last_use[g.nodes[i].residual], i);
    }
    last_use[g.output] = N;  // read by the caller after the run
    auto bytes_of = [&](int i) {
      return static_cast<size_t>(shape_numel(g.nodes[i].shape)) * dtype_size(g.nodes[i].dtype);
    };
    for (int a = 0; a < N; ++a) {
      if (plan.offset[a] == MemoryPlan::kNone) continue;
      for (int b = a + 1; b <= std::max(a, last_use[a]) && b < N; ++b) {  // b is defined while a is alive
        if (plan.offset[b] == MemoryPlan::kNone) continue;
        if (plan.offset[a] < plan.offset[b] + bytes_of(b) && plan.offset[b] < plan.offset[a] + bytes_of(a))
          throw std::runtime_error(fmt::format("nodes {} and {} share arena bytes while both are alive", a, b));
      }
    }
    const auto p = integers<int>(doc.at("passes"), "passes");
    if (p.size() != 4) throw std::runtime_error("bad pass stats");
    return Executable::from_plan(std::move(g), std::move(plan), PassStats{p[0], p[1], p[2], p[3]});
  } catch (const std::exception& e) {
    std::cerr << fmt::format("jitgen: warning: ignoring plan cache file {}: {}; rebuilding it\n", path, e.what());
    return nullptr;
  }
}

}  // namespace jitgen
