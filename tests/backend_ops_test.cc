// The backend-ops test (as llama.cpp's test-backend-ops): every op kind of the op table (graph/op_table.h) x every
// backend this machine can run x the weight formats the op takes, at odd shapes, against the scalar reference
// kernels (ops/reference.h). The op runs through the table's own launch: a one-op graph bound by the CPU executable
// (Executable::from_plan: no passes, so fused ops such as embedding_sum and linear's epilogues are tested as nodes)
// on each SIMD target cpu::simd_targets() lists (avx512, avx2, sse4, ..., the portable one; neon under qemu), and
// by the CUDA executable when the build has CUDA and a GPU is present (skipped with the reason otherwise).
//
// The test list is made from the op table: an op kind without a case in kCases fails EveryOpKindHasACase and its
// own parameterized test. Weights: f32 for every op; bf16 panels (JITGEN_WEIGHTS=bf16) for the ops that multiply
// weights, against the reference on bf16-rounded weights and activations (what the bf16 kernels compute, up to the
// order of fp32 sums). Tolerance: max |got - want| / max(1, |want|) < 2e-5 (f32 and CPU bf16; sums in another
// order), 3e-2 on CUDA bf16 storage; token ids, written KV cache rows and beam-reordered states are exact.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "graph/executable.h"
#include "graph/memory_plan.h"
#include "graph/op_table.h"
#include "ops/cpu_kernels.h"
#include "ops/prepared_weights.h"
#include "ops/reference.h"
#if JITGEN_WITH_CUDA
#include <type_traits>

#include "ops/cuda/cuda_executable.h"
#include "ops/cuda/cuda_ops.h"
#include "runtime/cuda_runtime.h"
#endif
#include "test_support.h"

namespace jitgen {
namespace {

using Floats = std::vector<float>;
using Ints = std::vector<int32_t>;

Floats randn(int64_t n, uint32_t seed, float scale = 1.0f) { return test::randn(static_cast<size_t>(n), seed, scale); }
Tensor tensor_of(const Floats& v, Shape s) {
  Tensor t = Tensor::zeros(std::move(s));
  std::copy(v.begin(), v.end(), t.f32());
  return t;
}
Tensor tensor_of(const Ints& v, Shape s) {
  Tensor t = Tensor::zeros(std::move(s), DType::kI32);
  std::copy(v.begin(), v.end(), t.i32());
  return t;
}
Tensor clone(const Tensor& t) {
  Tensor c = Tensor::zeros(t.shape(), t.dtype());
  std::memcpy(c.data(), t.data(), t.nbytes());
  return c;
}
Floats bf16_rounded(Floats v) {
  for (auto& x : v) x = bf16_to_f32(f32_to_bf16(x));
  return v;
}

// Argmax per row; beam search's source rows are a fixed permutation (the reorder_rows cases).
class TestSelect final : public TokenSelect {
 public:
  explicit TestSelect(Ints source = {}) : source_(std::move(source)) {}
  void select(const float* logits, int64_t B, int64_t V, int32_t* tokens) override {
    for (int64_t b = 0; b < B; ++b)
      tokens[b] = static_cast<int32_t>(std::max_element(logits + b * V, logits + (b + 1) * V) - (logits + b * V));
  }
  const int32_t* source_rows() const override { return source_.empty() ? nullptr : source_.data(); }

 private:
  Ints source_;
};

// One op on bound inputs and weights: what the executables bind, and what the reference reads.
struct OpCase {
  std::string label;
  Graph graph;                            // inputs and weights, then the op (the output)
  std::map<std::string, Tensor> inputs;   // initial values of the bound inputs (f32 / i32)
  std::vector<std::string> written;       // inputs the op writes (KV caches, beam states): compared exactly
  bool output_checked = true;             // false: the output is scratch (reorder_rows)
  std::vector<std::pair<Tensor, bool>> matmul_weights;  // weights the op multiplies (packed at load), transposed?
  std::shared_ptr<TestSelect> select;     // bound as "select_state"
  // From copies of `inputs` (updated in place where the op writes them): the expected output. bf16: weights and
  // the activations they multiply rounded as the bf16 kernels round them.
  std::function<Floats(std::map<std::string, Tensor>& in, bool bf16)> reference;

  // Graph building: each node gets its shape and dtype from the op table's rule (the tracing builder's path).
  int input(const std::string& name, const Tensor& value) {
    Node n{OpKind::kInput};
    n.name = name, n.shape = value.shape(), n.dtype = value.dtype();
    inputs[name] = value;
    return add(std::move(n));
  }
  int weight(const std::string& name, const Floats& v, Shape s) {
    Node n{OpKind::kWeight};
    n.name = name, n.weight = tensor_of(v, s), n.shape = s;
    return add(std::move(n));
  }
  int add(Node n) {
    const TypeOf t = infer_type(graph, n);
    n.shape = t.shape, n.dtype = t.dtype;
    graph.nodes.push_back(std::move(n));
    return graph.output = static_cast<int>(graph.nodes.size()) - 1;
  }
  const Tensor& weight_of(int id) const { return graph.nodes[id].weight; }
};

const float* f(std::map<std::string, Tensor>& in, const char* k) { return in.at(k).f32(); }
const int32_t* ids(std::map<std::string, Tensor>& in, const char* k) { return in.at(k).i32(); }

// ---- The cases of each op kind ----

std::vector<OpCase> embedding_cases(bool sum) {
  std::vector<OpCase> out;
  for (auto [R, V, C] : {std::tuple<int64_t, int64_t, int64_t>{1, 5, 67}, {3, 11, 96}, {7, 3, 1}}) {
    OpCase c;
    c.label = fmt::format("R={} V={} C={}", R, V, C);
    const Floats ta = randn(V * C, 1), tb = randn((V + 2) * C, 2);
    Ints ia(R), ib(R);
    for (int64_t r = 0; r < R; ++r) ia[r] = (5 * r + 1) % V, ib[r] = (3 * r + 2) % (V + 2);
    const int wa = c.weight("wte", ta, {V, C}), xa = c.input("ids", tensor_of(ia, {1, R}));
    if (!sum) {
      c.add(Node{OpKind::kEmbedding, {wa, xa}});
    } else {
      const int wb = c.weight("wpe", tb, {V + 2, C}), xb = c.input("pos", tensor_of(ib, {1, R}));
      c.add(Node{OpKind::kEmbeddingSum, {wa, xa, wb, xb}});
    }
    c.reference = [=](auto& in, bool) {
      Floats o(R * C);
      if (sum)
        ref::embedding_sum(ta.data(), V, ids(in, "ids"), tb.data(), V + 2, ids(in, "pos"), C, R, o.data());
      else
        ref::embedding(ta.data(), V, C, ids(in, "ids"), R, o.data());
      return o;
    };
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<OpCase> elementwise_cases(OpKind op) {
  std::vector<OpCase> out;
  for (Shape s : {Shape{1, 1, 67}, Shape{3, 96}, Shape{7, 5, 13}}) {
    OpCase c;
    c.label = shape_str(s);
    const int64_t n = shape_numel(s);
    const int a = c.input("a", tensor_of(randn(n, 3), s)), b = c.input("b", tensor_of(randn(n, 4), s));
    c.add(Node{op, {a, b}});
    c.reference = [=](auto& in, bool) {
      Floats o(n);
      (op == OpKind::kAdd ? ref::add : ref::mul)(f(in, "a"), f(in, "b"), o.data(), n);
      return o;
    };
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<OpCase> norm_cases(OpKind op) {
  std::vector<OpCase> out;
  for (auto [R, C] : {std::pair<int64_t, int64_t>{1, 67}, {3, 96}, {7, 1}}) {
    OpCase c;
    c.label = fmt::format("R={} C={}", R, C);
    const Floats g = randn(C, 6), beta = randn(C, 7);
    const int x = c.input("x", tensor_of(randn(R * C, 5, 3.0f), {R, C})), wg = c.weight("g", g, {C});
    Node n{op, {x, wg}};
    if (op == OpKind::kLayerNorm) n.inputs.push_back(c.weight("b", beta, {C}));
    n.eps = 1e-5f;
    c.add(std::move(n));
    c.reference = [=](auto& in, bool) {
      Floats o(R * C);
      if (op == OpKind::kLayerNorm)
        ref::layer_norm(f(in, "x"), g.data(), beta.data(), 1e-5f, R, C, o.data());
      else
        ref::rms_norm(f(in, "x"), g.data(), 1e-5f, R, C, o.data());
      return o;
    };
    out.push_back(std::move(c));
  }
  return out;
}

// linear: with and without bias, a fused activation and a fused residual (the epilogues fusion folds in).
std::vector<OpCase> linear_cases(bool transposed) {
  std::vector<OpCase> out;
  struct Shape3 {
    int64_t M, K, N;
    bool bias, act, residual;
  };
  for (Shape3 s : {Shape3{1, 67, 96, true, false, false}, Shape3{3, 96, 67, false, true, false},
                   Shape3{7, 67, 33, true, true, true}, Shape3{3, 5, 130, true, false, true}}) {
    if (transposed && (s.bias || s.act || s.residual)) s.bias = s.act = s.residual = false;
    OpCase c;
    const auto [M, K, N, has_bias, has_act, has_res] = s;
    c.label = fmt::format("M={} K={} N={}{}{}{}", M, K, N, has_bias ? " bias" : "", has_act ? " silu" : "",
                          has_res ? " residual" : "");
    const Floats w = randn(K * N, 12, 0.1f), bias = randn(N, 13);
    const int x = c.input("x", tensor_of(randn(M * K, 11), {M, K}));
    const int res = has_res ? c.input("res", tensor_of(randn(M * N, 14), {M, N})) : -1;
    const int wid = c.weight("w", w, transposed ? Shape{N, K} : Shape{K, N});
    Node n{transposed ? OpKind::kLinearTransposed : OpKind::kLinear, {x, wid}};
    if (has_bias) n.inputs.push_back(c.weight("bias", bias, {N}));
    n.has_act = has_act, n.act = has_act ? Activation::kSilu : Activation::kGeluTanh, n.residual = res;
    c.add(std::move(n));
    c.matmul_weights.emplace_back(c.weight_of(wid), transposed);
    c.reference = [=](auto& in, bool bf16) {
      const Floats x(f(in, "x"), f(in, "x") + M * K);
      const Floats xr = bf16 ? bf16_rounded(x) : x;
      const Floats wr = bf16 ? bf16_rounded(w) : w;
      Floats o(M * N);
      if (transposed) {
        ref::linear_transposed(xr.data(), wr.data(), M, K, N, o.data());
        return o;
      }
      ref::linear(xr.data(), wr.data(), has_bias ? bias.data() : nullptr, M, K, N, o.data());
      if (has_act) ref::activation(o.data(), o.data(), M * N, Activation::kSilu);
      if (has_res)
        for (int64_t i = 0; i < M * N; ++i) o[i] += f(in, "res")[i];
      return o;
    };
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<OpCase> activation_cases() {
  std::vector<OpCase> out;
  for (Activation a : {Activation::kGeluTanh, Activation::kGeluErf, Activation::kRelu, Activation::kSilu}) {
    OpCase c;
    c.label = activation_name(a);
    const int64_t n = 3 * 67;
    const int x = c.input("x", tensor_of(randn(n, 8, 3.0f), {3, 67}));
    Node node{OpKind::kActivation, {x}};
    node.act = a;
    c.add(std::move(node));
    c.reference = [=](auto& in, bool) {
      Floats o(n);
      ref::activation(f(in, "x"), o.data(), n, a);
      return o;
    };
    out.push_back(std::move(c));
  }
  return out;
}

// KV cache inputs of an attention case: caches [B, KV, S, D] with history, key_mask [B, S] with a left pad in row 0,
// rows at different write slots (a continuous batch).
void attention_state(OpCase& c, int64_t B, int64_t KV, int64_t S, int64_t D, int32_t pos0, std::vector<int>& ids) {
  const int64_t cache = B * KV * S * D;
  ids.push_back(c.input("k_cache", tensor_of(randn(cache, 21), {B, KV, S, D})));
  ids.push_back(c.input("v_cache", tensor_of(randn(cache, 22), {B, KV, S, D})));
  Ints pos(B), mask(B * S, 1);
  for (int64_t b = 0; b < B; ++b) pos[b] = pos0 - static_cast<int32_t>(b % 2) * std::min<int32_t>(pos0, 2);
  mask[0] = 0;
  ids.push_back(c.input("cache_pos", tensor_of(pos, {B})));
  ids.push_back(c.input("key_mask", tensor_of(mask, {B, S})));
  c.written = {"k_cache", "v_cache"};
}

std::vector<OpCase> attention_cases(bool separate) {
  std::vector<OpCase> out;
  struct Dims {
    int64_t B, T, S, H, KV, D, window;
    int32_t pos;
  };
  // Heads not a power of two, GQA 6/2, MQA 3/1, a window shorter than the context, prefill and decode.
  const std::vector<Dims> dims =
      separate ? std::vector<Dims>{{1, 1, 64, 6, 2, 16, 0, 40}, {3, 5, 23, 3, 1, 12, 0, 9}, {2, 7, 40, 6, 2, 16, 6, 20},
                                   {7, 1, 32, 3, 3, 32, 5, 25}}
               : std::vector<Dims>{{1, 1, 64, 3, 3, 32, 0, 40}, {3, 5, 23, 6, 6, 16, 0, 9}, {7, 3, 16, 1, 1, 67, 0, 4}};
  for (const Dims& d : dims) {
    OpCase c;
    c.label = fmt::format("B={} T={} S={} H={} KV={} D={} window={}", d.B, d.T, d.S, d.H, d.KV, d.D, d.window);
    const int64_t HD = d.H * d.D, KD = d.KV * d.D;
    std::vector<int> act;
    if (separate) {
      act.push_back(c.input("q", tensor_of(randn(d.B * d.T * HD, 40), {d.B, d.T, HD})));
      act.push_back(c.input("k", tensor_of(randn(d.B * d.T * KD, 41), {d.B, d.T, KD})));
      act.push_back(c.input("v", tensor_of(randn(d.B * d.T * KD, 42), {d.B, d.T, KD})));
    } else {
      act.push_back(c.input("qkv", tensor_of(randn(d.B * d.T * 3 * HD, 20), {d.B, d.T, 3 * HD})));
    }
    attention_state(c, d.B, d.KV, d.S, d.D, d.pos, act);
    Node n{separate ? OpKind::kAttentionQkv : OpKind::kAttention, act};
    n.n_head = static_cast<int>(d.H), n.scale = 0.3f;
    if (separate) n.n_kv_head = static_cast<int>(d.KV), n.window = static_cast<int>(d.window);
    c.add(std::move(n));
    const cpu::AttentionShape s{d.B, d.T, d.S, d.H, d.D, d.KV, d.window};
    c.reference = [=](auto& in, bool) {
      Floats o(d.B * d.T * HD);
      float *kc = in.at("k_cache").f32(), *vc = in.at("v_cache").f32();
      if (separate)
        ref::attention_qkv({f(in, "q"), f(in, "k"), f(in, "v"), HD, KD, KD}, kc, vc, ids(in, "cache_pos"),
                           ids(in, "key_mask"), s, 0.3f, o.data());
      else
        ref::attention(f(in, "qkv"), kc, vc, ids(in, "cache_pos"), ids(in, "key_mask"), s, 0.3f, o.data());
      return o;
    };
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<OpCase> rope_cases() {
  std::vector<OpCase> out;
  struct Dims {
    int64_t B, T, heads, D, rotary;
    float factor, dynamic_base;
  };
  // Full and partial rotary, an odd number of heads, yarn's attention factor, dynamic NTK past original_max = 8.
  for (const Dims& d : {Dims{1, 1, 3, 16, 16, 1.0f, 0}, Dims{3, 5, 5, 12, 6, 1.0f, 0}, Dims{7, 3, 6, 32, 32, 1.2f, 0},
                        Dims{2, 7, 3, 8, 8, 1.0f, 10000.0f}}) {
    OpCase c;
    c.label = fmt::format("B={} T={} heads={} D={} rotary={} factor={}{}", d.B, d.T, d.heads, d.D, d.rotary, d.factor,
                          d.dynamic_base > 0 ? " dynamic" : "");
    const int64_t rows = d.B * d.T, W = d.heads * d.D;
    Ints pos(rows);
    for (int64_t r = 0; r < rows; ++r) pos[r] = static_cast<int32_t>((7 * r + 3) % 13);
    Floats inv(d.rotary / 2);
    for (int64_t i = 0; i < d.rotary / 2; ++i) inv[i] = std::pow(10000.0f, -2.0f * i / d.rotary);
    const int x = c.input("x", tensor_of(randn(rows * W, 9), {d.B, d.T, W}));
    const int p = c.input("positions", tensor_of(pos, {d.B, d.T}));
    Node n{OpKind::kRope, {x, p, c.weight("inv_freq", inv, {d.rotary / 2})}};
    n.head_dim = static_cast<int>(d.D), n.rotary_dim = static_cast<int>(d.rotary), n.scale = d.factor;
    const bool dynamic = d.dynamic_base > 0;
    n.rope_base = d.dynamic_base, n.rope_factor = dynamic ? 2.0f : 0, n.rope_original_max = dynamic ? 8 : 0;
    const cpu::RopeDynamic dyn{n.rope_base, n.rope_factor, n.rope_original_max};
    c.add(std::move(n));
    c.reference = [=](auto& in, bool) {
      Floats o(rows * W);
      ref::rope(f(in, "x"), ids(in, "positions"), inv.data(), {rows, d.heads, d.D, d.rotary}, d.factor, dyn, o.data());
      return o;
    };
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<OpCase> last_position_cases() {
  std::vector<OpCase> out;
  for (auto [B, T, C] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 67}, {3, 7, 96}, {7, 3, 5}}) {
    OpCase c;
    c.label = fmt::format("B={} T={} C={}", B, T, C);
    c.add(Node{OpKind::kLastPosition, {c.input("x", tensor_of(randn(B * T * C, 10), {B, T, C}))}});
    c.reference = [=](auto& in, bool) {
      Floats o;
      for (int64_t b = 0; b < B; ++b) o.insert(o.end(), f(in, "x") + (b * T + T - 1) * C, f(in, "x") + (b * T + T) * C);
      return o;
    };
    out.push_back(std::move(c));
  }
  return out;
}

// select_tokens alone, and reorder_rows after it: rows of the KV cache and key mask follow a beam permutation over
// the filled slots [0, max(cache_pos) + T) only.
std::vector<OpCase> select_cases(bool reorder) {
  std::vector<OpCase> out;
  for (auto [B, V] : {std::pair<int64_t, int64_t>{1, 67}, {3, 96}, {7, 5}}) {
    OpCase c;
    Ints source(B);
    for (int64_t b = 0; b < B; ++b) source[b] = static_cast<int32_t>((b * 2 + 1) % B);
    c.select = std::make_shared<TestSelect>(reorder ? source : Ints{});
    c.label = fmt::format("B={} V={}", B, V);
    const int logits = c.input("logits", tensor_of(randn(B * V, 15), {B, 1, V}));
    const int state = c.input("select_state", tensor_of(Ints(1), {1}));  // bound to c.select by the runners
    const int tokens = c.add(Node{OpKind::kSelectTokens, {logits, state}});
    const int64_t KV = 3, S = 9, D = 5, T = 2;
    if (reorder) {
      Ints pos(B);
      for (int64_t b = 0; b < B; ++b) pos[b] = static_cast<int32_t>(b % 4);
      Ints mask(B * S);
      for (int64_t i = 0; i < B * S; ++i) mask[i] = static_cast<int32_t>(i % 3 != 0);
      Node n{OpKind::kReorderRows, {tokens, state, c.input("cache_pos", tensor_of(pos, {B}))}};
      n.inputs.push_back(c.input("k_cache", tensor_of(randn(B * KV * S * D, 16), {B, KV, S, D})));
      n.inputs.push_back(c.input("key_mask", tensor_of(mask, {B, S})));
      n.step_tokens = static_cast<int>(T);
      c.add(std::move(n));
      c.written = {"k_cache", "key_mask"};
      c.output_checked = false;
    }
    c.reference = [=](auto& in, bool) {
      Ints tokens(B);
      TestSelect().select(f(in, "logits"), B, V, tokens.data());
      const Floats o(tokens.begin(), tokens.end());
      if (!reorder) return o;
      const int64_t filled = *std::max_element(ids(in, "cache_pos"), ids(in, "cache_pos") + B) + T;
      const Tensor k0 = clone(in.at("k_cache")), m0 = clone(in.at("key_mask"));
      for (int64_t b = 0; b < B; ++b)
        for (int64_t s = 0; s < filled; ++s) {
          in.at("key_mask").i32()[b * S + s] = m0.i32()[source[b] * S + s];
          for (int64_t h = 0; h < KV; ++h)
            for (int64_t x = 0; x < D; ++x)
              in.at("k_cache").f32()[((b * KV + h) * S + s) * D + x] = k0.f32()[((source[b] * KV + h) * S + s) * D + x];
        }
      return o;
    };
    out.push_back(std::move(c));
  }
  return out;
}

// Every op kind with a kernel, and its cases. EveryOpKindHasACase checks this against the op table.
const std::map<OpKind, std::function<std::vector<OpCase>()>>& cases() {
  static const std::map<OpKind, std::function<std::vector<OpCase>()>> kCases = {
      {OpKind::kEmbedding, [] { return embedding_cases(false); }},
      {OpKind::kEmbeddingSum, [] { return embedding_cases(true); }},
      {OpKind::kAdd, [] { return elementwise_cases(OpKind::kAdd); }},
      {OpKind::kMul, [] { return elementwise_cases(OpKind::kMul); }},
      {OpKind::kLayerNorm, [] { return norm_cases(OpKind::kLayerNorm); }},
      {OpKind::kRmsNorm, [] { return norm_cases(OpKind::kRmsNorm); }},
      {OpKind::kLinear, [] { return linear_cases(false); }},
      {OpKind::kLinearTransposed, [] { return linear_cases(true); }},
      {OpKind::kActivation, activation_cases},
      {OpKind::kAttention, [] { return attention_cases(false); }},
      {OpKind::kAttentionQkv, [] { return attention_cases(true); }},
      {OpKind::kRope, rope_cases},
      {OpKind::kLastPosition, last_position_cases},
      {OpKind::kSelectTokens, [] { return select_cases(false); }},
      {OpKind::kReorderRows, [] { return select_cases(true); }},
  };
  return kCases;
}

// ---- Runners ----

// Inputs as the executables bind them: data pointers by name, select_state the TokenSelect object.
std::map<std::string, Tensor> clone_inputs(const OpCase& c) {
  std::map<std::string, Tensor> in;
  for (const auto& [name, t] : c.inputs) in[name] = clone(t);
  return in;
}

Floats output_floats(const Node& out, const void* data) {
  const int64_t n = shape_numel(out.shape);
  if (out.dtype == DType::kI32) {
    const int32_t* p = static_cast<const int32_t*>(data);
    return Floats(p, p + n);
  }
  const float* p = static_cast<const float*>(data);
  return Floats(p, p + n);
}

// The CPU executable on the selected SIMD target; `storage` is the format the op's matmul weights are packed in.
Floats run_cpu(const OpCase& c, cpu::WeightStorage storage, std::map<std::string, Tensor>& in) {
  cpu::PreparedWeights prepared(storage);
  for (const auto& [w, transposed] : c.matmul_weights) prepared.add(w, transposed);
  Graph g = c.graph;
  MemoryPlan plan = plan_memory(g);
  auto exe = Executable::from_plan(std::move(g), std::move(plan), PassStats{});
  std::unique_ptr<void, decltype(&std::free)> arena(std::aligned_alloc(64, (exe->arena_bytes() + 127) / 64 * 64),
                                                    &std::free);
  RunContext ctx{static_cast<char*>(arena.get()), {}};
  for (const std::string& name : exe->input_names())
    ctx.inputs.push_back(name == "select_state" ? static_cast<void*>(c.select.get()) : in.at(name).data());
  exe->run(ctx);
  return output_floats(c.graph.nodes[c.graph.output], exe->output(ctx));
}

// The CUDA executable on the first GPU: inputs uploaded in the storage type (f32, or bf16 for the bf16 run), the
// output read back as fp32, written states read back into `in`. Only in CUDA builds.
#if JITGEN_WITH_CUDA
std::string cuda_skip_reason(OpKind op) {
  if (!cuda::cuda_op(op).bind) return std::string("no CUDA kernel: ") + cuda::cuda_op(op).none_because;
  if (cuda::device_count() == 0) return "no CUDA device (cudaGetDeviceCount = 0)";
  return "";
}

Floats run_cuda(const OpCase& c, std::map<std::string, Tensor>& in, bool bf16) {
  using cuda::DeviceBuffer;
  const cuda::Storage st = bf16 ? cuda::Storage::kBF16 : cuda::Storage::kF32;
  cuda::DeviceWeights weights(st);
  cublasLtHandle_t lt = nullptr;
  cuda::check_cublas(cublasLtCreate(&lt), "cublasLtCreate");
  std::unique_ptr<std::remove_pointer_t<cublasLtHandle_t>, decltype(&cublasLtDestroy)> lt_owner(lt, &cublasLtDestroy);
  const cuda::Stream stream;
  auto exe = cuda::CudaExecutable::build(c.graph, /*fused=*/false, weights, lt);
  DeviceBuffer arena(exe->arena_bytes() + 64), gemm_ws(cuda::kGemmWorkspaceBytes),
      attn_ws(std::max<size_t>(exe->attention_workspace_bytes(), 64));
  std::map<std::string, DeviceBuffer> bound;
  cuda::CudaRunContext ctx{static_cast<char*>(arena.data()), {}, gemm_ws.data(), attn_ws.data()};
  for (const std::string& name : exe->input_names()) {
    const Tensor& t = in.at(name);
    DeviceBuffer& d = bound[name] = DeviceBuffer(std::max<size_t>(t.nbytes(), 64));
    if (t.dtype() == DType::kF32)
      cuda::upload_converted(st, t.f32(), d.data(), t.numel(), stream.get());
    else
      JITGEN_CUDA_CHECK(cudaMemcpyAsync(d.data(), t.data(), t.nbytes(), cudaMemcpyHostToDevice, stream.get()));
    ctx.inputs.push_back(d.data());
  }
  exe->run(ctx, stream.get());
  const Node& out = c.graph.nodes[c.graph.output];
  std::vector<char> host(shape_numel(out.shape) * 4);
  JITGEN_CUDA_CHECK(cudaMemcpyAsync(host.data(), exe->output(ctx), host.size(), cudaMemcpyDeviceToHost, stream.get()));
  for (const std::string& name : c.written) {
    Tensor& t = in.at(name);
    if (t.dtype() == DType::kF32) {
      DeviceBuffer f32(t.nbytes());
      cuda::to_f32(st, bound.at(name).data(), f32.as<float>(), t.numel(), stream.get());
      JITGEN_CUDA_CHECK(cudaMemcpyAsync(t.data(), f32.data(), t.nbytes(), cudaMemcpyDeviceToHost, stream.get()));
      stream.synchronize();
    } else {
      JITGEN_CUDA_CHECK(
          cudaMemcpyAsync(t.data(), bound.at(name).data(), t.nbytes(), cudaMemcpyDeviceToHost, stream.get()));
    }
  }
  stream.synchronize();
  return output_floats(out, host.data());
}
#else
std::string cuda_skip_reason(OpKind) { return "built without CUDA (JITGEN_CUDA=OFF)"; }
Floats run_cuda(const OpCase&, std::map<std::string, Tensor>&, bool) { return {}; }
#endif

float max_rel_err(const Floats& got, const Floats& want) {
  EXPECT_EQ(got.size(), want.size());
  float e = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    const float d = std::abs(got[i] - want[i]) / std::max(1.0f, std::abs(want[i]));
    e = std::isnan(d) ? INFINITY : std::max(e, d);
  }
  return e;
}

// Runs every case of `op` through `run` and compares it with the reference.
void check_op(OpKind op, bool bf16, float tol, const std::string& where,
              const std::function<Floats(const OpCase&, std::map<std::string, Tensor>&)>& run) {
  for (const OpCase& c : cases().at(op)()) {
    if (bf16 && c.matmul_weights.empty()) continue;
    auto got_in = clone_inputs(c), want_in = clone_inputs(c);
    const Floats got = run(c, got_in);
    const Floats want = c.reference(want_in, bf16);
    const std::string what = fmt::format("{} {} [{}] on {}", op_name(op), bf16 ? "bf16" : "f32", c.label, where);
    if (c.output_checked) {
      if (c.graph.nodes[c.graph.output].dtype == DType::kI32)
        EXPECT_EQ(got, want) << what;
      else
        EXPECT_LT(max_rel_err(got, want), tol) << what;
    }
    for (const std::string& name : c.written) {
      const Tensor &g = got_in.at(name), &w = want_in.at(name);
      EXPECT_EQ(std::memcmp(g.data(), w.data(), g.nbytes()), 0) << what << ": " << name << " differs";
    }
  }
}

// ---- Tests ----

struct Backend {
  OpKind op;
  std::string target;  // a SIMD target name, or "cuda"
};
void PrintTo(const Backend& b, std::ostream* os) { *os << op_name(b.op) << " on " << b.target; }

std::vector<Backend> backends() {
  std::vector<Backend> out;
  for (const OpDef& d : op_defs()) {
    if (d.bound) continue;  // inputs and weights: bound by the runner, the operands of every case
    for (const std::string& t : cpu::simd_targets()) out.push_back({d.op, t});
    out.push_back({d.op, "cuda"});
  }
  return out;
}

TEST(BackendOps, EveryOpKindHasACase) {
  for (const OpDef& d : op_defs()) {
    if (d.bound) {
      EXPECT_EQ(d.bind_cpu, nullptr) << d.name;
      continue;
    }
    EXPECT_EQ(cases().count(d.op), 1u) << d.name << " has no case in tests/backend_ops_test.cc";
    EXPECT_NE(d.bind_cpu, nullptr) << d.name;
  }
}

// The rules the tracing builder and the plan store share refuse what a kernel could not run.
TEST(BackendOps, OpTableRulesRefuseInconsistentNodes) {
  OpCase c;
  const int a = c.input("a", tensor_of(randn(6, 1), {2, 3})), b = c.input("b", tensor_of(randn(8, 2), {2, 4}));
  EXPECT_THROW(infer_type(c.graph, Node{OpKind::kAdd, {a, b}}), OpError);      // shapes differ
  EXPECT_THROW(infer_type(c.graph, Node{OpKind::kAdd, {a}}), OpError);         // too few inputs
  EXPECT_THROW(infer_type(c.graph, Node{OpKind::kAdd, {a, a, a}}), OpError);   // too many
  Node heads{OpKind::kAdd, {a, a}};
  heads.n_head = 2;  // an attribute add does not take
  EXPECT_THROW(infer_type(c.graph, heads), OpError);
  EXPECT_EQ(infer_type(c.graph, Node{OpKind::kAdd, {a, a}}).shape, (Shape{2, 3}));
  EXPECT_EQ(op_def_by_name("rms_norm")->op, OpKind::kRmsNorm);
  EXPECT_EQ(op_def_by_name("no_such_op"), nullptr);
}

class BackendOpsTest : public ::testing::TestWithParam<Backend> {};

TEST_P(BackendOpsTest, MatchesTheReference) {
  const Backend& b = GetParam();
  ASSERT_EQ(cases().count(b.op), 1u) << op_name(b.op) << " has no case in tests/backend_ops_test.cc";
  if (b.target == "cuda") {
    const std::string skip = cuda_skip_reason(b.op);
    if (!skip.empty()) GTEST_SKIP() << skip;
    // bf16 storage keeps the graph's output fp32 only when it is the lm_head (linear_t): the executable's rule.
    for (bool bf16 : {false, true})
      if (!bf16 || b.op == OpKind::kLinearTransposed)
        check_op(b.op, bf16, bf16 ? 3e-2f : 2e-5f, "cuda",
                 [&](const OpCase& c, auto& in) { return run_cuda(c, in, bf16); });
    return;
  }
  const std::string previous = cpu::simd_name();
  ASSERT_TRUE(cpu::set_simd(b.target));
  for (cpu::WeightStorage storage : {cpu::WeightStorage::kF32, cpu::WeightStorage::kBF16})
    check_op(b.op, storage == cpu::WeightStorage::kBF16, 2e-5f, b.target,
             [&](const OpCase& c, auto& in) { return run_cpu(c, storage, in); });
  cpu::set_simd(previous);
}

INSTANTIATE_TEST_SUITE_P(OpTable, BackendOpsTest, ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<Backend>& i) {
                           return std::string(op_name(i.param.op)) + "_" + i.param.target;
                         });

}  // namespace
}  // namespace jitgen
