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

namespace jitgen {

namespace {

using nlohmann::json;

constexpr OpKind kAllOps[] = {OpKind::kInput,  OpKind::kWeight,           OpKind::kEmbedding, OpKind::kEmbeddingSum,
                              OpKind::kAdd,    OpKind::kLayerNorm,        OpKind::kLinear,    OpKind::kLinearTransposed,
                              OpKind::kActivation, OpKind::kAttention,    OpKind::kLastPosition,
                              OpKind::kSelectTokens, OpKind::kReorderRows, OpKind::kRmsNorm, OpKind::kMul,
                              OpKind::kRope, OpKind::kAttentionQkv};

OpKind op_from_name(const std::string& name) {
  for (OpKind op : kAllOps)
    if (name == op_name(op)) return op;
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

// The output shape a node must have given its inputs: the same rules the tracing builder applies.
// Throws on anything inconsistent, so a bound kernel never reads or writes outside its buffers.
Shape expected_shape(const Graph& g, const Node& n) {
  auto in = [&](size_t k) -> const Node& {
    if (k >= n.inputs.size()) throw std::runtime_error(fmt::format("{} has too few inputs", op_name(n.op)));
    return g.nodes[n.inputs[k]];
  };
  auto need = [](bool ok, const char* what) {
    if (!ok) throw std::runtime_error(what);
  };
  auto is_f32 = [](const Node& x) { return x.dtype == DType::kF32; };
  switch (n.op) {
    case OpKind::kInput:
    case OpKind::kWeight:
      return n.shape;
    case OpKind::kEmbedding: {
      need(in(0).shape.size() == 2 && in(1).dtype == DType::kI32 && is_f32(in(0)), "bad embedding");
      Shape s = in(1).shape;
      s.push_back(in(0).shape[1]);
      return s;
    }
    case OpKind::kEmbeddingSum: {
      need(in(0).shape.size() == 2 && in(2).shape.size() == 2 && in(0).shape[1] == in(2).shape[1], "bad embedding_sum");
      need(in(1).shape == in(3).shape && in(1).dtype == DType::kI32 && in(3).dtype == DType::kI32, "bad embedding_sum ids");
      Shape s = in(1).shape;
      s.push_back(in(0).shape[1]);
      return s;
    }
    case OpKind::kAdd:
      need(in(0).shape == in(1).shape && is_f32(in(0)) && is_f32(in(1)), "bad add");
      return in(0).shape;
    case OpKind::kLayerNorm:
      need(!in(0).shape.empty() && in(1).shape == Shape{in(0).shape.back()} && in(2).shape == in(1).shape,
           "bad layer_norm");
      return in(0).shape;
    case OpKind::kLinear: {
      const Node& x = in(0);
      const Node& w = in(1);
      need(!x.shape.empty() && w.shape.size() == 2 && x.shape.back() == w.shape[0], "bad linear");
      if (n.inputs.size() > 2) need(in(2).shape == Shape{w.shape[1]}, "bad linear bias");
      Shape s = x.shape;
      s.back() = w.shape[1];
      if (n.residual >= 0) need(g.nodes[n.residual].shape == s, "bad linear residual");
      return s;
    }
    case OpKind::kLinearTransposed: {
      need(!in(0).shape.empty() && in(1).shape.size() == 2 && in(0).shape.back() == in(1).shape[1], "bad linear_t");
      Shape s = in(0).shape;
      s.back() = in(1).shape[0];
      return s;
    }
    case OpKind::kActivation:
      return in(0).shape;
    case OpKind::kAttention: {
      const Shape& q = in(0).shape;
      const Shape& k = in(1).shape;
      need(q.size() == 3 && k.size() == 4 && in(2).shape == k && k[0] == q[0] && n.n_head == k[1] && n.n_head > 0,
           "bad attention");
      need(q[2] == 3 * k[1] * k[3] && in(3).shape == Shape{k[0]} && in(4).shape == Shape{k[0], k[2]}, "bad attention");
      need(in(3).dtype == DType::kI32 && in(4).dtype == DType::kI32, "bad attention inputs");
      return {q[0], q[1], q[2] / 3};
    }
    case OpKind::kRmsNorm:
      need(!in(0).shape.empty() && in(1).shape == Shape{in(0).shape.back()} && is_f32(in(0)) && is_f32(in(1)),
           "bad rms_norm");
      return in(0).shape;
    case OpKind::kMul:
      need(in(0).shape == in(1).shape && is_f32(in(0)) && is_f32(in(1)), "bad mul");
      return in(0).shape;
    case OpKind::kRope: {
      const Shape& x = in(0).shape;
      need(x.size() == 3 && is_f32(in(0)) && n.head_dim > 0 && x[2] % n.head_dim == 0 && n.rotary_dim >= 2 &&
               n.rotary_dim % 2 == 0 && n.rotary_dim <= n.head_dim,
           "bad rope");
      need(in(1).shape == Shape{x[0], x[1]} && in(1).dtype == DType::kI32, "bad rope positions");
      need(in(2).shape == Shape{n.rotary_dim / 2} && is_f32(in(2)), "bad rope inv_freq");
      need(n.rope_base >= 0 && (n.rope_base == 0 || n.rope_original_max >= 1), "bad rope dynamic");
      return x;
    }
    case OpKind::kAttentionQkv: {
      const Shape& q = in(0).shape;
      const Shape& k = in(3).shape;  // [B, KV, S, D]
      need(q.size() == 3 && k.size() == 4 && in(4).shape == k && k[0] == q[0] && n.n_head > 0 && n.n_kv_head > 0 &&
               n.n_kv_head == k[1] && n.n_head % n.n_kv_head == 0 && q[2] == n.n_head * k[3] && n.window >= 0 &&
               q[1] <= k[2],
           "bad attention_qkv");
      need(in(1).shape == Shape{q[0], q[1], k[1] * k[3]} && in(2).shape == in(1).shape, "bad attention_qkv k/v");
      need(in(5).shape == Shape{k[0]} && in(6).shape == Shape{k[0], k[2]} && in(5).dtype == DType::kI32 &&
               in(6).dtype == DType::kI32,
           "bad attention_qkv inputs");
      return q;
    }
    case OpKind::kSelectTokens:
      need(in(0).shape.size() == 3 && in(0).shape[1] == 1 && is_f32(in(0)) && in(1).op == OpKind::kInput &&
               in(1).name == "select_state" && n.dtype == DType::kI32,
           "bad select_tokens");
      return {in(0).shape[0]};
    case OpKind::kReorderRows: {
      need(n.inputs.size() >= 4 && in(0).op == OpKind::kSelectTokens && in(1).op == OpKind::kInput &&
               in(1).name == "select_state" && in(2).dtype == DType::kI32 && in(2).shape.size() == 1 &&
               n.step_tokens >= 1,
           "bad reorder_rows");
      const int64_t B = in(2).shape[0];
      const size_t scratch = static_cast<size_t>(shape_numel(in(3).shape)) * dtype_size(in(3).dtype);
      for (size_t k = 3; k < n.inputs.size(); ++k) {
        const Shape& s = in(k).shape;
        need((s.size() == 4 || s.size() == 2) && s[0] == B && in(k).op == OpKind::kInput &&
                 n.step_tokens <= (s.size() == 4 ? s[2] : s[1]),
             "bad reorder_rows state");
        need(static_cast<size_t>(shape_numel(s)) * dtype_size(in(k).dtype) <= scratch, "bad reorder_rows scratch");
      }
      need(n.dtype == in(3).dtype, "bad reorder_rows dtype");
      return in(3).shape;
    }
    case OpKind::kLastPosition: {
      need(in(0).shape.size() == 3, "bad last_position");
      Shape s = in(0).shape;
      s[1] = 1;
      return s;
    }
  }
  throw std::runtime_error("bad op");
}

json node_to_json(const Node& n) {
  return {{"op", op_name(n.op)}, {"in", n.inputs},  {"shape", n.shape},   {"dtype", dtype_name(n.dtype)},
          {"name", n.name},      {"eps", n.eps},    {"scale", n.scale},   {"heads", n.n_head}, {"T", n.step_tokens},
          {"act", static_cast<int>(n.act)},         {"has_act", n.has_act}, {"residual", n.residual}, {"dead", n.dead},
          {"kv", n.n_kv_head}, {"window", n.window}, {"head_dim", n.head_dim}, {"rotary", n.rotary_dim},
          {"rope_base", n.rope_base}, {"rope_factor", n.rope_factor}, {"rope_max", n.rope_original_max}};
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
      n.eps = j.at("eps").get<float>();
      n.scale = j.at("scale").get<float>();
      n.n_head = integer<int>(j.at("heads"), "heads");
      n.step_tokens = integer<int>(j.at("T"), "T");
      // The Llama-family attributes are optional: plans written before those ops existed stay valid.
      auto opt_int = [&](const char* k) { return j.contains(k) ? integer<int>(j.at(k), k) : 0; };
      auto opt_float = [&](const char* k) { return j.contains(k) ? j.at(k).get<float>() : 0.0f; };
      n.n_kv_head = opt_int("kv");
      n.window = opt_int("window");
      n.head_dim = opt_int("head_dim");
      n.rotary_dim = opt_int("rotary");
      n.rope_base = opt_float("rope_base");
      n.rope_factor = opt_float("rope_factor");
      n.rope_original_max = opt_int("rope_max");
      const int act = integer<int>(j.at("act"), "act");
      if (act < 0 || act > static_cast<int>(Activation::kSilu)) throw std::runtime_error("bad activation");
      n.act = static_cast<Activation>(act);
      n.has_act = j.at("has_act").get<bool>();
      n.residual = integer<int>(j.at("residual"), "residual");
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
      if (!n.dead && expected_shape(g, n) != n.shape) throw std::runtime_error("inconsistent shapes");
      const int64_t off = offsets[i];
      const bool arena_node = !n.dead && n.op != OpKind::kInput && n.op != OpKind::kWeight;
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
