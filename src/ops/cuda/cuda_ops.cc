// The CUDA launch of every op kind (cuda_ops.h), in OpKind order. Shapes and attributes are already checked by the
// op table's rules (graph/op_table.h) when a graph reaches here. Shape comments: B = batch rows, T = new tokens,
// S = KV capacity, C = channels, H = heads, KV = key/value heads, D = head dim.
#include "ops/cuda/cuda_ops.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <string>

#include "graph/builder.h"
#include "graph/op_table.h"
#include "ops/cuda/quant_gemm.h"
#include "ops/cuda/quant_layout.h"
#include "ops/prepared_weights.h"

namespace jitgen::cuda {

namespace {

int64_t rows_of(const Shape& s) { return shape_numel(s) / s.back(); }

Act to_act(Activation a) { return static_cast<Act>(static_cast<int>(a)); }

// cuBLASLt's GELU epilogue (tanh form) for half storage; fp32 keeps the exact kernel unless asked.
bool gelu_in_epilogue(Storage s) {
  if (s != Storage::kF32) return true;
  const char* e = std::getenv("JITGEN_CUDA_GELU_EPILOGUE");
  return e && std::string(e) == "1";
}

CudaBound bind_embedding(CudaBindArgs& a) {
  const CudaRef table = a.in(0), ids = a.in(1), out = a.out;
  const int64_t C = a.in_shape(0)[1], R = shape_numel(a.in_shape(1));
  const Storage st = a.storage;
  return {[=](const CudaRunContext& c, cudaStream_t s) { embedding(st, table.get(c), ids.i(c), C, R, out.get(c), s); },
          "embedding"};
}

CudaBound bind_embedding_sum(CudaBindArgs& a) {
  const CudaRef ta = a.in(0), ia = a.in(1), tb = a.in(2), ib = a.in(3), out = a.out;
  const int64_t C = a.in_shape(0)[1], R = shape_numel(a.in_shape(1));
  const Storage st = a.storage;
  return {[=](const CudaRunContext& c, cudaStream_t s) {
            embedding_sum(st, ta.get(c), ia.i(c), tb.get(c), ib.i(c), C, R, out.get(c), s);
          },
          "embedding_sum"};
}

// add and mul: out = x (op) y elementwise over same-shaped inputs, one kernels.h launch each; labelled with the op's
// name from the op table.
using BinaryKernel = void (*)(Storage, const void* x, const void* y, void* out, int64_t n, cudaStream_t);
template <BinaryKernel kernel>
CudaBound bind_binary(CudaBindArgs& a) {
  const CudaRef x = a.in(0), y = a.in(1), out = a.out;
  const int64_t N = shape_numel(a.node.shape);
  const Storage st = a.storage;
  return {[=](const CudaRunContext& c, cudaStream_t s) { kernel(st, x.get(c), y.get(c), out.get(c), N, s); },
          op_def(a.node.op).name};
}

CudaBound bind_layer_norm(CudaBindArgs& a) {
  const CudaRef x = a.in(0), gamma = a.in(1), beta = a.in(2), out = a.out;
  const int64_t R = rows_of(a.node.shape), C = a.node.shape.back();
  const float eps = a.node.eps;
  const Storage st = a.storage;
  return {[=](const CudaRunContext& c, cudaStream_t s) {
            layer_norm(st, x.get(c), gamma.get(c), beta.get(c), eps, R, C, out.get(c), s);
          },
          "layer_norm"};
}

// linear and linear_t: one cuBLASLt matmul with bias, GELU or residual in its epilogue where it can take them.
CudaBound bind_gemm(CudaBindArgs& a) {
  const Node& n = a.node;
  const bool transposed = n.op == OpKind::kLinearTransposed;
  const Storage st = a.storage;
  const Node& wn = a.graph.nodes[n.inputs[1]];
  const int64_t qK = transposed ? wn.shape[1] : wn.shape[0], qN = transposed ? wn.shape[0] : wn.shape[1];
  const cpu::PackedLinear* packed = wn.op == OpKind::kWeight ? cpu::find_packed(wn.weight.f32(), qK, qN) : nullptr;
  if (packed && packed->quant) {  // int8 / int4 weights (ops/cuda/quant_gemm.h): the fp32 weight stays on the host
    const DeviceQuantView qv = a.weights.quant(packed->quant);
    const CudaRef x = a.in(0), out = a.out;
    const void* bias = !transposed && n.inputs.size() > 2 ? a.in(2).fixed : nullptr;
    const int64_t M = rows_of(n.shape), numel = M * qN;
    const bool out_f32 = a.is_output, has_res = n.residual >= 0, has_act = n.has_act;
    const CudaRef res = has_res ? a.refs[n.residual] : CudaRef{};
    const Act act = to_act(n.act);
    a.attention_workspace_bytes = std::max(a.attention_workspace_bytes, quant_scratch_bytes(qv.slots(), M));
    std::string label = std::string(op_name(n.op)) + "(" + packed->quant->spec.name() + ")" + (has_act ? "+act" : "") +
                        (has_res ? "+residual" : "");
    return {[=](const CudaRunContext& c, cudaStream_t s) {  // CPU order: bias, activation, residual
              quant_linear(st, x.get(c), M, qv, bias, has_res && !has_act ? res.get(c) : nullptr, out.get(c), out_f32,
                           c.attention_workspace, s);
              if (has_act) activation(st, out.get(c), out.get(c), numel, act, s);
              if (has_res && has_act) add(st, out.get(c), res.get(c), out.get(c), numel, s);
            },
            label};
  }
  const CudaRef x = a.in(0), w = a.in(1), out = a.out;
  GemmSpec spec;
  spec.storage = st;
  spec.M = rows_of(n.shape);
  spec.K = transposed ? a.in_shape(1)[1] : a.in_shape(1)[0];
  spec.N = transposed ? a.in_shape(1)[0] : a.in_shape(1)[1];
  spec.w_transposed = transposed;
  spec.bias = !transposed && n.inputs.size() > 2 ? a.in(2).fixed : nullptr;
  spec.out_f32 = a.is_output;
  const bool has_res = n.residual >= 0;
  // The epilogue takes GELU (tanh) only without a residual (CPU order: activation, then residual).
  spec.gelu = n.has_act && n.act == Activation::kGeluTanh && !has_res && gelu_in_epilogue(st);
  spec.residual = has_res && !n.has_act;
  const bool act_kernel = n.has_act && !spec.gelu;
  const bool add_kernel = has_res && !spec.residual;
  const Act act = to_act(n.act);
  const CudaRef res = has_res ? a.refs[n.residual] : CudaRef{};
  const int64_t numel = spec.M * spec.N;
  auto gemm = std::make_shared<LtGemm>(a.lt, spec);
  a.gemms.push_back(gemm);
  const LtGemm* gp = gemm.get();
  std::string label = op_name(n.op);
  if (n.has_act) label += spec.gelu ? "+gelu(epilogue)" : "+act";
  if (has_res) label += "+residual";
  return {[=](const CudaRunContext& c, cudaStream_t s) {
            gp->run(x.get(c), w.get(c), spec.residual ? res.get(c) : nullptr, out.get(c), c.gemm_workspace, s);
            if (act_kernel) activation(st, out.get(c), out.get(c), numel, act, s);
            if (add_kernel) add(st, out.get(c), res.get(c), out.get(c), numel, s);
          },
          label};
}

CudaBound bind_activation(CudaBindArgs& a) {
  const CudaRef x = a.in(0), out = a.out;
  const int64_t N = shape_numel(a.node.shape);
  const Act act = to_act(a.node.act);
  const Storage st = a.storage;
  return {[=](const CudaRunContext& c, cudaStream_t s) { activation(st, x.get(c), out.get(c), N, act, s); },
          "activation"};
}

CudaBound bind_attention(CudaBindArgs& a) {
  const CudaRef qkv = a.in(0), kc = a.in(1), vc = a.in(2), pos = a.in(3), mask = a.in(4), out = a.out;
  const Shape& cache = a.in_shape(1);  // [B, H, S, D]
  const AttentionDims d{a.node.shape[0], a.node.shape[1], cache[2], cache[1], cache[3]};
  a.attention_workspace_bytes = std::max(a.attention_workspace_bytes, attention_workspace_bytes(d));
  const float scale = a.node.scale;
  const Storage st = a.storage;
  return {[=](const CudaRunContext& c, cudaStream_t s) {
            attention(st, qkv.get(c), kc.get(c), vc.get(c), pos.i(c), mask.i(c), d, scale, out.get(c),
                      c.attention_workspace, s);
          },
          "attention"};
}

CudaBound bind_rms_norm(CudaBindArgs& a) {
  const CudaRef x = a.in(0), gamma = a.in(1), out = a.out;
  const int64_t R = rows_of(a.node.shape), C = a.node.shape.back();
  const float eps = a.node.eps;
  const Storage st = a.storage;
  return {[=](const CudaRunContext& c, cudaStream_t s) {
            rms_norm(st, x.get(c), gamma.get(c), eps, R, C, out.get(c), s);
          },
          "rms_norm"};
}

CudaBound bind_rope(CudaBindArgs& a) {
  const Node& n = a.node;
  const CudaRef x = a.in(0), pos = a.in(1), out = a.out;
  const Node& freq_node = a.graph.nodes[n.inputs[2]];
  JITGEN_CHECK(freq_node.op == OpKind::kWeight);  // the family's inv_freq, a model weight, kept fp32 on the device
  const float* inv_freq = a.weights.get_f32(freq_node.weight);
  RopeDims d{n.shape[0] * n.shape[1], n.shape[2] / n.head_dim, n.head_dim, n.rotary_dim};
  d.attention_factor = n.scale;
  d.dynamic_base = n.rope_base;
  d.dynamic_factor = n.rope_factor;
  d.original_max = n.rope_original_max;
  const Storage st = a.storage;
  return {[=](const CudaRunContext& c, cudaStream_t s) { rope(st, x.get(c), pos.i(c), inv_freq, d, out.get(c), s); },
          "rope"};
}

CudaBound bind_attention_qkv(CudaBindArgs& a) {
  const Node& n = a.node;
  const CudaRef q = a.in(0), k = a.in(1), v = a.in(2), kc = a.in(3), vc = a.in(4), pos = a.in(5), mask = a.in(6);
  const CudaRef out = a.out;
  const Shape& cache = a.in_shape(3);  // [B, KV, S, D]
  AttentionDims d{n.shape[0], n.shape[1], cache[2], n.n_head, cache[3]};
  d.KV = cache[1];
  d.window = n.window;
  d.grouped = grouped_attention_from_env();
  const int64_t qs = a.in_shape(0)[2], ks = a.in_shape(1)[2], vs = a.in_shape(2)[2];
  a.attention_workspace_bytes = std::max(a.attention_workspace_bytes, attention_workspace_bytes(d));
  const float scale = n.scale;
  const Storage st = a.storage;
  return {[=](const CudaRunContext& c, cudaStream_t s) {
            attention_qkv(st, QkvInputs{q.get(c), k.get(c), v.get(c), qs, ks, vs}, kc.get(c), vc.get(c), pos.i(c),
                          mask.i(c), d, scale, out.get(c), c.attention_workspace, s);
          },
          "attention_qkv"};
}

CudaBound bind_last_position(CudaBindArgs& a) {
  const CudaRef x = a.in(0), out = a.out;
  const Shape& xs = a.in_shape(0);
  const int64_t B = xs[0], T = xs[1], C = xs[2];
  const Storage st = a.storage;
  return {[=](const CudaRunContext& c, cudaStream_t s) { last_position(st, x.get(c), B, T, C, out.get(c), s); },
          "last_position"};
}

constexpr const char* kBound = "bound by the runner (no kernel)";
constexpr const char* kHostSide =
    "the CUDA runner chooses tokens and reorders beams around the graph (cuda_step_runner.cc), never inside it";

constexpr CudaOp kCudaOps[] = {
    {OpKind::kInput, nullptr, kBound},
    {OpKind::kWeight, nullptr, kBound},
    {OpKind::kEmbedding, bind_embedding, nullptr},
    {OpKind::kEmbeddingSum, bind_embedding_sum, nullptr},
    {OpKind::kAdd, bind_binary<add>, nullptr},
    {OpKind::kLayerNorm, bind_layer_norm, nullptr},
    {OpKind::kLinear, bind_gemm, nullptr},
    {OpKind::kLinearTransposed, bind_gemm, nullptr},
    {OpKind::kActivation, bind_activation, nullptr},
    {OpKind::kAttention, bind_attention, nullptr},
    {OpKind::kRmsNorm, bind_rms_norm, nullptr},
    {OpKind::kMul, bind_binary<mul>, nullptr},
    {OpKind::kRope, bind_rope, nullptr},
    {OpKind::kAttentionQkv, bind_attention_qkv, nullptr},
    {OpKind::kLastPosition, bind_last_position, nullptr},
    {OpKind::kSelectTokens, nullptr, kHostSide},
    {OpKind::kReorderRows, nullptr, kHostSide},
};

constexpr bool in_enum_order() {
  if (std::size(kCudaOps) != static_cast<size_t>(kOpCount)) return false;
  for (int i = 0; i < kOpCount; ++i)
    if (static_cast<int>(kCudaOps[i].op) != i || (kCudaOps[i].bind == nullptr) == (kCudaOps[i].none_because == nullptr))
      return false;
  return true;
}
static_assert(in_enum_order(),
              "kCudaOps must have one entry per OpKind (graph/op_table.h), in enum order: a launch, or none and why");

}  // namespace

const CudaOp& cuda_op(OpKind op) {
  const int i = static_cast<int>(op);
  JITGEN_CHECK(i >= 0 && i < kOpCount);
  return kCudaOps[i];
}

}  // namespace jitgen::cuda
