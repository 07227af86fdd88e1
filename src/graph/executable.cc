#include "graph/executable.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "ops/cpu_kernels.h"

namespace jitgen {

namespace {

// Where a node's data lives at run time: fixed (a weight), the arena, or a bound input.
struct Ref {
  enum Kind { kFixed, kArena, kInput } kind = kFixed;
  size_t offset = 0;
  int slot = -1;
  void* fixed = nullptr;

  void* get(const RunContext& ctx) const {
    switch (kind) {
      case kArena: return ctx.arena + offset;
      case kInput: return ctx.inputs[slot];
      case kFixed: break;
    }
    return fixed;
  }
  float* f(const RunContext& ctx) const { return static_cast<float*>(get(ctx)); }
  int32_t* i(const RunContext& ctx) const { return static_cast<int32_t*>(get(ctx)); }
};

}  // namespace

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
std::string kernel_label_of(const Node& n) {
  std::string label = op_name(n.op);
  if (n.op == OpKind::kLinear) {
    if (n.has_act) label += "+act";
    if (n.residual >= 0) label += "+residual";
  }
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
  Executable* exe = this;
  const Graph& g = exe->graph_;
  JITGEN_CHECK(g.output >= 0 && exe->plan_.offset[g.output] != MemoryPlan::kNone);

  std::vector<Ref> refs(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.dead) continue;
    if (n.op == OpKind::kWeight) {
      refs[i] = Ref{Ref::kFixed, 0, -1, const_cast<void*>(n.weight.data())};
    } else if (n.op == OpKind::kInput) {
      refs[i] = Ref{Ref::kInput, 0, static_cast<int>(exe->input_names_.size()), nullptr};
      exe->input_names_.push_back(n.name);
    } else {
      refs[i] = Ref{Ref::kArena, exe->plan_.offset[i], -1, nullptr};
    }
  }

  auto& kernels = exe->kernels_;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.dead || n.op == OpKind::kWeight || n.op == OpKind::kInput) continue;
    const Ref out = refs[i];
    exe->labels_.push_back(kernel_label_of(n));
    auto in = [&](int k) { return refs[n.inputs[k]]; };
    auto shape_of = [&](int k) -> const Shape& { return g.nodes[n.inputs[k]].shape; };
    switch (n.op) {
      case OpKind::kEmbedding: {
        const Ref table = in(0), ids = in(1);
        const int64_t V = shape_of(0)[0], C = shape_of(0)[1], R = shape_numel(shape_of(1));
        kernels.push_back([=](const RunContext& c) { cpu::embedding(table.f(c), V, C, ids.i(c), R, out.f(c)); });
        break;
      }
      case OpKind::kEmbeddingSum: {
        const Ref ta = in(0), ia = in(1), tb = in(2), ib = in(3);
        const int64_t Va = shape_of(0)[0], Vb = shape_of(2)[0], C = shape_of(0)[1], R = shape_numel(shape_of(1));
        kernels.push_back([=](const RunContext& c) {
          cpu::embedding_sum(ta.f(c), Va, ia.i(c), tb.f(c), Vb, ib.i(c), C, R, out.f(c));
        });
        break;
      }
      case OpKind::kAdd: {
        const Ref a = in(0), b = in(1);
        const int64_t N = shape_numel(n.shape);
        kernels.push_back([=](const RunContext& c) { cpu::add(a.f(c), b.f(c), out.f(c), N); });
        break;
      }
      case OpKind::kLayerNorm: {
        const Ref x = in(0), gamma = in(1), beta = in(2);
        const int64_t R = rows_of(n.shape), C = n.shape.back();
        const float eps = n.eps;
        kernels.push_back(
            [=](const RunContext& c) { cpu::layer_norm(x.f(c), gamma.f(c), beta.f(c), eps, R, C, out.f(c)); });
        break;
      }
      case OpKind::kLinear: {
        const Ref x = in(0), w = in(1);
        const Ref bias = n.inputs.size() > 2 ? in(2) : Ref{};
        const bool has_bias = n.inputs.size() > 2, has_act = n.has_act;
        const Ref res = n.residual >= 0 ? refs[n.residual] : Ref{};
        const bool has_res = n.residual >= 0;
        const Activation act = n.act;
        const int64_t M = rows_of(n.shape), K = shape_of(1)[0], N = shape_of(1)[1];
        kernels.push_back([=](const RunContext& c) {
          // Bias, activation and residual are applied to each output tile while it is in registers.
          const cpu::LinearEpilogue epi{has_act, act, has_res ? res.f(c) : nullptr};
          cpu::linear(x.f(c), w.f(c), has_bias ? bias.f(c) : nullptr, M, K, N, out.f(c), epi);
        });
        break;
      }
      case OpKind::kLinearTransposed: {
        const Ref x = in(0), w = in(1);
        const int64_t M = rows_of(n.shape), N = shape_of(1)[0], K = shape_of(1)[1];
        kernels.push_back([=](const RunContext& c) { cpu::linear_transposed(x.f(c), w.f(c), M, K, N, out.f(c)); });
        break;
      }
      case OpKind::kActivation: {
        const Ref x = in(0);
        const int64_t N = shape_numel(n.shape);
        const Activation act = n.act;
        kernels.push_back([=](const RunContext& c) { cpu::activation(x.f(c), out.f(c), N, act); });
        break;
      }
      case OpKind::kAttention: {
        const Ref qkv = in(0), kc = in(1), vc = in(2), pos = in(3), mask = in(4);
        const Shape& cache = shape_of(1);  // [B, H, S, D]
        const cpu::AttentionShape s{n.shape[0], n.shape[1], cache[2], cache[1], cache[3]};
        const float scale = n.scale;
        kernels.push_back([=](const RunContext& c) {
          cpu::attention(qkv.f(c), kc.f(c), vc.f(c), pos.i(c), mask.i(c), s, scale, out.f(c));
        });
        break;
      }
      case OpKind::kRmsNorm: {
        const Ref x = in(0), gamma = in(1);
        const int64_t R = rows_of(n.shape), C = n.shape.back();
        const float eps = n.eps;
        kernels.push_back([=](const RunContext& c) { cpu::rms_norm(x.f(c), gamma.f(c), eps, R, C, out.f(c)); });
        break;
      }
      case OpKind::kMul: {
        const Ref a = in(0), b = in(1);
        const int64_t N = shape_numel(n.shape);
        kernels.push_back([=](const RunContext& c) { cpu::mul(a.f(c), b.f(c), out.f(c), N); });
        break;
      }
      case OpKind::kRope: {
        const Ref x = in(0), pos = in(1), freq = in(2);
        const cpu::RopeShape s{n.shape[0] * n.shape[1], n.shape[2] / n.head_dim, n.head_dim, n.rotary_dim};
        const cpu::RopeDynamic dyn{n.rope_base, n.rope_factor, n.rope_original_max};
        const float factor = n.scale;
        kernels.push_back(
            [=](const RunContext& c) { cpu::rope(x.f(c), pos.i(c), freq.f(c), s, factor, dyn, out.f(c)); });
        break;
      }
      case OpKind::kAttentionQkv: {
        const Ref q = in(0), k = in(1), v = in(2), kc = in(3), vc = in(4), pos = in(5), mask = in(6);
        const Shape& cache = shape_of(3);  // [B, KV, S, D]
        const cpu::AttentionShape s{n.shape[0], n.shape[1], cache[2], n.n_head, cache[3], cache[1], n.window};
        const int64_t qs = shape_of(0)[2], ks = shape_of(1)[2], vs = shape_of(2)[2];
        const float scale = n.scale;
        kernels.push_back([=](const RunContext& c) {
          cpu::attention_qkv({q.f(c), k.f(c), v.f(c), qs, ks, vs}, kc.f(c), vc.f(c), pos.i(c), mask.i(c), s, scale,
                             out.f(c));
        });
        break;
      }
      case OpKind::kLastPosition: {
        const Ref x = in(0);
        const Shape& xs = shape_of(0);
        const int64_t B = xs[0], T = xs[1], C = xs[2];
        kernels.push_back([=](const RunContext& c) {
          for (int64_t b = 0; b < B; ++b)
            std::memcpy(out.f(c) + b * C, x.f(c) + (b * T + T - 1) * C, C * sizeof(float));
        });
        break;
      }
      case OpKind::kSelectTokens: {
        const Ref logits = in(0), state = in(1);
        const int64_t B = shape_of(0)[0], V = shape_of(0)[2];
        kernels.push_back([=](const RunContext& c) {
          static_cast<TokenSelect*>(state.get(c))->select(logits.f(c), B, V, out.i(c));
        });
        break;
      }
      case OpKind::kReorderRows: {
        const Ref state = in(1), pos = in(2);
        const int64_t B = shape_of(2)[0], T = n.step_tokens;
        std::vector<std::pair<Ref, Shape>> states;
        std::vector<size_t> item;
        for (size_t k = 3; k < n.inputs.size(); ++k) {
          states.emplace_back(in(static_cast<int>(k)), shape_of(static_cast<int>(k)));
          item.push_back(dtype_size(g.nodes[n.inputs[k]].dtype));
        }
        kernels.push_back([=](const RunContext& c) {
          const int32_t* src = static_cast<const TokenSelect*>(state.get(c))->source_rows();
          if (!src) return;
          const int32_t* p = pos.i(c);
          const int64_t filled = *std::max_element(p, p + B) + T;
          for (size_t k = 0; k < states.size(); ++k)
            cpu::gather_rows(static_cast<char*>(states[k].first.get(c)), states[k].second, item[k], filled, src,
                             static_cast<char*>(out.get(c)));
        });
        break;
      }
      case OpKind::kInput:
      case OpKind::kWeight:
        break;
    }
  }
}

}  // namespace jitgen
