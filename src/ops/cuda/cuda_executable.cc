#include "ops/cuda/cuda_executable.h"

#include <cstdlib>
#include <string>

#include "graph/builder.h"
#include "ops/cuda/quant_layout.h"
#include "ops/prepared_weights.h"

namespace jitgen::cuda {

namespace {

// Where a node's data lives at run time: a device weight, the arena, or a bound input.
struct Ref {
  enum Kind { kFixed, kArena, kInput } kind = kFixed;
  size_t offset = 0;
  int slot = -1;
  const void* fixed = nullptr;

  void* get(const CudaRunContext& c) const {
    switch (kind) {
      case kArena: return c.arena + offset;
      case kInput: return c.inputs[slot];
      case kFixed: break;
    }
    return const_cast<void*>(fixed);
  }
  int32_t* i(const CudaRunContext& c) const { return static_cast<int32_t*>(get(c)); }
};

int64_t rows_of(const Shape& s) { return shape_numel(s) / s.back(); }

Act to_act(Activation a) { return static_cast<Act>(static_cast<int>(a)); }

// cuBLASLt's GELU epilogue (tanh form) for half storage; fp32 keeps the exact kernel unless asked.
bool gelu_in_epilogue(Storage s) {
  if (s != Storage::kF32) return true;
  const char* e = std::getenv("JITGEN_CUDA_GELU_EPILOGUE");
  return e && std::string(e) == "1";
}

}  // namespace

std::shared_ptr<const CudaExecutable> CudaExecutable::build(Graph graph, bool fused, DeviceWeights& weights,
                                                            cublasLtHandle_t lt) {
  auto exe = std::shared_ptr<CudaExecutable>(new CudaExecutable());
  if (fused)
    run_default_passes(graph, exe->stats_);
  else
    eliminate_dead_code(graph, exe->stats_);
  exe->plan_ = plan_memory(graph);
  exe->graph_ = std::move(graph);
  exe->storage_ = weights.storage();
  exe->bind(weights, lt);
  return exe;
}

void CudaExecutable::run(const CudaRunContext& ctx, cudaStream_t stream) const {
  JITGEN_CHECK(ctx.inputs.size() == input_names_.size());
  for (const auto& launch : launches_) launch(ctx, stream);
}

void CudaExecutable::bind(DeviceWeights& weights, cublasLtHandle_t lt) {
  const Graph& g = graph_;
  const Storage st = storage_;
  JITGEN_CHECK(g.output >= 0 && plan_.offset[g.output] != MemoryPlan::kNone);
  const Node& out_node = g.nodes[g.output];
  JITGEN_CHECK(st == Storage::kF32 || out_node.op == OpKind::kLinearTransposed);  // fp32 logits

  std::vector<Ref> refs(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.dead) continue;
    if (n.op == OpKind::kWeight) {
      refs[i] = Ref{Ref::kFixed, 0, -1, nullptr};  // uploaded when an op reads it (quantized linears do not)
    } else if (n.op == OpKind::kInput) {
      refs[i] = Ref{Ref::kInput, 0, static_cast<int>(input_names_.size()), nullptr};
      input_names_.push_back(n.name);
    } else {
      refs[i] = Ref{Ref::kArena, plan_.offset[i], -1, nullptr};
    }
  }

  auto ref_of = [&](int idx) {
    Ref& r = refs[idx];
    if (g.nodes[idx].op == OpKind::kWeight && r.fixed == nullptr) r.fixed = weights.get(g.nodes[idx].weight);
    return r;
  };
  auto& launches = launches_;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.dead || n.op == OpKind::kWeight || n.op == OpKind::kInput) continue;
    const Ref out = refs[i];
    auto in = [&](int k) { return ref_of(n.inputs[k]); };
    auto shape_of = [&](int k) -> const Shape& { return g.nodes[n.inputs[k]].shape; };
    std::string label = op_name(n.op);
    switch (n.op) {
      case OpKind::kEmbedding: {
        const Ref table = in(0), ids = in(1);
        const int64_t C = shape_of(0)[1], R = shape_numel(shape_of(1));
        launches.push_back([=](const CudaRunContext& c, cudaStream_t s) {
          embedding(st, table.get(c), ids.i(c), C, R, out.get(c), s);
        });
        break;
      }
      case OpKind::kEmbeddingSum: {
        const Ref ta = in(0), ia = in(1), tb = in(2), ib = in(3);
        const int64_t C = shape_of(0)[1], R = shape_numel(shape_of(1));
        launches.push_back([=](const CudaRunContext& c, cudaStream_t s) {
          embedding_sum(st, ta.get(c), ia.i(c), tb.get(c), ib.i(c), C, R, out.get(c), s);
        });
        break;
      }
      case OpKind::kAdd: {
        const Ref a = in(0), b = in(1);
        const int64_t N = shape_numel(n.shape);
        launches.push_back([=](const CudaRunContext& c, cudaStream_t s) { add(st, a.get(c), b.get(c), out.get(c), N, s); });
        break;
      }
      case OpKind::kLayerNorm: {
        const Ref x = in(0), gamma = in(1), beta = in(2);
        const int64_t R = rows_of(n.shape), C = n.shape.back();
        const float eps = n.eps;
        launches.push_back([=](const CudaRunContext& c, cudaStream_t s) {
          layer_norm(st, x.get(c), gamma.get(c), beta.get(c), eps, R, C, out.get(c), s);
        });
        break;
      }
      case OpKind::kLinear:
      case OpKind::kLinearTransposed: {
        const bool transposed = n.op == OpKind::kLinearTransposed;
        const Node& wn = g.nodes[n.inputs[1]];
        const int64_t qK = transposed ? wn.shape[1] : wn.shape[0], qN = transposed ? wn.shape[0] : wn.shape[1];
        const cpu::PackedLinear* packed = wn.op == OpKind::kWeight ? cpu::find_packed(wn.weight.f32(), qK, qN) : nullptr;
        if (packed && packed->quant) {  // int8 / int4 weights (ops/cuda/quant_gemm.h): the fp32 weight stays on the host
          const DeviceQuantView qv = weights.quant(packed->quant);
          const Ref x = in(0);
          const void* bias = !transposed && n.inputs.size() > 2 ? in(2).fixed : nullptr;
          const int64_t M = rows_of(n.shape), numel = M * qN;
          const bool out_f32 = static_cast<int>(i) == g.output, has_res = n.residual >= 0, has_act = n.has_act;
          const Ref res = has_res ? refs[n.residual] : Ref{};
          const Act act = to_act(n.act);
          attention_workspace_bytes_ = std::max(attention_workspace_bytes_, quant_scratch_bytes(qv.slots(), M));
          launches.push_back([=](const CudaRunContext& c, cudaStream_t s) {  // CPU order: bias, activation, residual
            quant_linear(st, x.get(c), M, qv, bias, has_res && !has_act ? res.get(c) : nullptr, out.get(c), out_f32,
                         c.attention_workspace, s);
            if (has_act) activation(st, out.get(c), out.get(c), numel, act, s);
            if (has_res && has_act) add(st, out.get(c), res.get(c), out.get(c), numel, s);
          });
          label += "(" + packed->quant->spec.name() + ")" + (has_act ? "+act" : "") + (has_res ? "+residual" : "");
          break;
        }
        const Ref x = in(0), w = in(1);
        GemmSpec spec;
        spec.storage = st;
        spec.M = rows_of(n.shape);
        spec.K = transposed ? shape_of(1)[1] : shape_of(1)[0];
        spec.N = transposed ? shape_of(1)[0] : shape_of(1)[1];
        spec.w_transposed = transposed;
        spec.bias = !transposed && n.inputs.size() > 2 ? in(2).fixed : nullptr;
        spec.out_f32 = static_cast<int>(i) == g.output;
        const bool has_res = n.residual >= 0;
        // The epilogue takes GELU (tanh) only without a residual (CPU order: activation, then residual).
        spec.gelu = n.has_act && n.act == Activation::kGeluTanh && !has_res && gelu_in_epilogue(st);
        spec.residual = has_res && !n.has_act;
        const bool act_kernel = n.has_act && !spec.gelu;
        const bool add_kernel = has_res && !spec.residual;
        const Act act = to_act(n.act);
        const Ref res = has_res ? refs[n.residual] : Ref{};
        const int64_t numel = spec.M * spec.N;
        auto gemm = std::make_shared<LtGemm>(lt, spec);
        gemms_.push_back(gemm);
        const LtGemm* gp = gemm.get();
        launches.push_back([=](const CudaRunContext& c, cudaStream_t s) {
          gp->run(x.get(c), w.get(c), spec.residual ? res.get(c) : nullptr, out.get(c), c.gemm_workspace, s);
          if (act_kernel) activation(st, out.get(c), out.get(c), numel, act, s);
          if (add_kernel) add(st, out.get(c), res.get(c), out.get(c), numel, s);
        });
        if (n.has_act) label += spec.gelu ? "+gelu(epilogue)" : "+act";
        if (has_res) label += "+residual";
        break;
      }
      case OpKind::kActivation: {
        const Ref x = in(0);
        const int64_t N = shape_numel(n.shape);
        const Act act = to_act(n.act);
        launches.push_back(
            [=](const CudaRunContext& c, cudaStream_t s) { activation(st, x.get(c), out.get(c), N, act, s); });
        break;
      }
      case OpKind::kAttention: {
        const Ref qkv = in(0), kc = in(1), vc = in(2), pos = in(3), mask = in(4);
        const Shape& cache = shape_of(1);  // [B, H, S, D]
        const AttentionDims d{n.shape[0], n.shape[1], cache[2], cache[1], cache[3]};
        attention_workspace_bytes_ = std::max(attention_workspace_bytes_, jitgen::cuda::attention_workspace_bytes(d));
        const float scale = n.scale;
        launches.push_back([=](const CudaRunContext& c, cudaStream_t s) {
          attention(st, qkv.get(c), kc.get(c), vc.get(c), pos.i(c), mask.i(c), d, scale, out.get(c),
                    c.attention_workspace, s);
        });
        break;
      }
      case OpKind::kRmsNorm: {
        const Ref x = in(0), gamma = in(1);
        const int64_t R = rows_of(n.shape), C = n.shape.back();
        const float eps = n.eps;
        launches.push_back([=](const CudaRunContext& c, cudaStream_t s) {
          rms_norm(st, x.get(c), gamma.get(c), eps, R, C, out.get(c), s);
        });
        break;
      }
      case OpKind::kMul: {
        const Ref a = in(0), b = in(1);
        const int64_t N = shape_numel(n.shape);
        launches.push_back([=](const CudaRunContext& c, cudaStream_t s) { mul(st, a.get(c), b.get(c), out.get(c), N, s); });
        break;
      }
      case OpKind::kRope: {
        const Ref x = in(0), pos = in(1);
        const Node& freq_node = g.nodes[n.inputs[2]];
        JITGEN_CHECK(freq_node.op == OpKind::kWeight);  // the family's inv_freq, a model weight
        const float* inv_freq = weights.get_f32(freq_node.weight);
        RopeDims d{n.shape[0] * n.shape[1], n.shape[2] / n.head_dim, n.head_dim, n.rotary_dim};
        d.attention_factor = n.scale;
        d.dynamic_base = n.rope_base;
        d.dynamic_factor = n.rope_factor;
        d.original_max = n.rope_original_max;
        launches.push_back([=](const CudaRunContext& c, cudaStream_t s) {
          rope(st, x.get(c), pos.i(c), inv_freq, d, out.get(c), s);
        });
        break;
      }
      case OpKind::kAttentionQkv: {
        const Ref q = in(0), k = in(1), v = in(2), kc = in(3), vc = in(4), pos = in(5), mask = in(6);
        const Shape& cache = shape_of(3);  // [B, KV, S, D]
        AttentionDims d{n.shape[0], n.shape[1], cache[2], n.n_head, cache[3]};
        d.KV = cache[1];
        d.window = n.window;
        d.grouped = grouped_attention_from_env();
        const int64_t qs = shape_of(0)[2], ks = shape_of(1)[2], vs = shape_of(2)[2];
        attention_workspace_bytes_ = std::max(attention_workspace_bytes_, jitgen::cuda::attention_workspace_bytes(d));
        const float scale = n.scale;
        launches.push_back([=](const CudaRunContext& c, cudaStream_t s) {
          attention_qkv(st, QkvInputs{q.get(c), k.get(c), v.get(c), qs, ks, vs}, kc.get(c), vc.get(c), pos.i(c),
                        mask.i(c), d, scale, out.get(c), c.attention_workspace, s);
        });
        break;
      }
      case OpKind::kLastPosition: {
        const Ref x = in(0);
        const Shape& xs = shape_of(0);
        const int64_t B = xs[0], T = xs[1], C = xs[2];
        launches.push_back(
            [=](const CudaRunContext& c, cudaStream_t s) { last_position(st, x.get(c), B, T, C, out.get(c), s); });
        break;
      }
      case OpKind::kInput:
      case OpKind::kWeight:
        break;
      default:  // an op added to the IR without a CUDA kernel yet: refuse at compile time, not at run time
        throw Error(ErrorCode::kInternal, std::string("the CUDA backend has no kernel for op ") + op_name(n.op));
    }
    labels_.push_back(label);
  }
}

}  // namespace jitgen::cuda
