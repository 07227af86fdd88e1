// Decode kernels against the bandwidth they stream at, interleaved in one run:
//   [JITGEN_SIMD=<target>] kernels_bench [threads] [attention|rows|gemm]   ("attention": only the attention and norm
//   rows; "rows": only the vocabulary-row, rope, mul and add rows, each against the plain scalar loop it replaced;
//   "gemm": only the small-M GEMM rows over SmolLM2 / TinyLlama MLP shapes, M = 1, 8, 32, 128, fp32 and bf16)
// prints the SIMD target (cpu_kernels.h), GB/s of the pure read probe, and of the M = 1 GEMV over an
// lm_head-sized [50257, 768] weight (fp32 and bf16 panels; bf16 on avx512 by AVX512_BF16 dot products and by
// widening to fp32, elsewhere widened), and of one GPT-2 c_fc [768, 3072] weight at M = 1, 8, 32 (GFLOP/s too),
// fp32 and bf16; then attention over a KV cache (GPT-2 heads, one new token per row, batch 1 and 8 at a 1024-slot
// context; a Llama-style GQA layer) by the dispatched kernel and by the scalar reference (single-threaded: what
// every target but avx512 ran before the Highway kernel), and RMSNorm / LayerNorm rows.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "generate/logits_processors.h"
#include "generate/sampling.h"
#include "ops/cpu/avx512.h"
#include "ops/cpu/simd.h"
#include "ops/cpu_kernels.h"
#include "ops/prepared_weights.h"
#include "ops/reference.h"
#include "runtime/roofline.h"
#include "runtime/thread_pool.h"
#include "row_counts.h"

using Clock = std::chrono::steady_clock;

namespace {

// The fastest of `reps` calls (after one warm-up call): on a machine shared with other jobs the mean mostly measures
// the time slices lost to them; the minimum is the kernel's own time.
template <typename Fn>
double min_time(Fn&& fn, int reps) {
  fn();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

// Decode attention: B rows, one new token each at slot pos of an S-slot cache, H query heads over KV key/value heads.
// Times are the minimum of repeated calls (min_time).
template <typename TimeIt>
void attention_rows(TimeIt&& /*time_it*/) {
  const auto time_it = [](auto&& fn, int reps) { return min_time(fn, 4 * reps); };
  struct Shape {
    const char* name;
    int64_t B, S, H, KV, D, pos;
  };
  for (const Shape& a : {Shape{"gpt2 b1", 1, 1024, 12, 12, 64, 1000}, Shape{"gpt2 b8", 8, 1024, 12, 12, 64, 1000},
                         Shape{"gqa 32/8 b1", 1, 2048, 32, 8, 64, 2000},
                         Shape{"smollm2 9/3 b32", 32, 256, 9, 3, 64, 144},
                         Shape{"tinyllama 32/4 b32", 32, 256, 32, 4, 64, 144}}) {
    const jitgen::cpu::AttentionShape s{a.B, 1, a.S, a.H, a.D, a.KV};
    std::vector<float> q(a.B * a.H * a.D, 0.01f), kv(a.B * a.KV * a.D, 0.02f), out(q.size());
    std::vector<float> kc(a.B * a.KV * a.S * a.D), vc(kc.size());
    for (size_t i = 0; i < kc.size(); ++i) kc[i] = static_cast<float>(i % 13) * 0.01f, vc[i] = static_cast<float>(i % 7);
    std::vector<int32_t> pos(a.B, static_cast<int32_t>(a.pos)), mask(a.B * a.S, 1);
    const jitgen::cpu::AttentionInputs in{q.data(), kv.data(), kv.data(), a.H * a.D, a.KV * a.D, a.KV * a.D};
    const double t = time_it([&] { jitgen::cpu::attention_qkv(in, kc.data(), vc.data(), pos.data(), mask.data(), s, 0.125f, out.data()); }, 50);
    const double tr = time_it([&] { jitgen::ref::attention_qkv(in, kc.data(), vc.data(), pos.data(), mask.data(), s, 0.125f, out.data()); }, 5);
    // The Highway kernel called directly (on avx512 the dispatch above takes the intrinsics kernel).
    const double th = time_it([&] { jitgen::cpu::simd::attention(in, kc.data(), vc.data(), pos.data(), mask.data(), s, 0.125f, out.data()); }, 50);
    const double bytes = 2.0 * a.B * a.KV * (a.pos + 1) * a.D * 4;  // K and V read once per KV head
    std::printf("   attention %s ctx %lld: %.3f ms (%.1f GB/s of K/V) | highway %.3f ms | scalar reference %.3f ms (%.1fx)\n",
                a.name, static_cast<long long>(a.pos + 1), t * 1e3, bytes / t / 1e9, th * 1e3, tr * 1e3, tr / t);
  }
  for (auto [R, C] : {std::pair<int64_t, int64_t>{1, 2048}, {32, 2048}}) {
    std::vector<float> x(R * C, 0.5f), g(C, 1.0f), b(C, 0.0f), y(R * C);
    const double tr = time_it([&] { jitgen::cpu::rms_norm(x.data(), g.data(), 1e-6f, R, C, y.data()); }, 200);
    const double tl = time_it([&] { jitgen::cpu::layer_norm(x.data(), g.data(), b.data(), 1e-5f, R, C, y.data()); }, 200);
    std::printf("   rms_norm [%lld, %lld] %.2f us | layer_norm %.2f us\n", static_cast<long long>(R),
                static_cast<long long>(C), tr * 1e6, tl * 1e6);
  }
}

// The loops the Highway kernels replaced (sampling.cc / logits_processors.cc / rope.cc before them), as they were:
// scalar max, torch.argmax and expf with a sequential fp64 sum.
int32_t scalar_argmax(const float* x, int V) {
  int32_t best = 0;
  float best_v = x[0];
  if (std::isnan(best_v)) return 0;
  for (int i = 1; i < V; ++i) {
    if (std::isnan(x[i])) return i;
    if (x[i] > best_v) best_v = x[i], best = i;
  }
  return best;
}
int32_t scalar_sample(const float* x, int V, float u) {
  float m = -INFINITY;
  for (int i = 0; i < V; ++i) m = x[i] > m ? x[i] : m;
  double total = 0.0;
  for (int i = 0; i < V; ++i) total += static_cast<double>(std::exp(x[i] - m));
  const double threshold = static_cast<double>(u) * total;
  double acc = 0.0;
  for (int i = 0; i < V; ++i) {
    acc += static_cast<double>(std::exp(x[i] - m));
    if (acc > threshold) return i;
  }
  return V - 1;
}
void scalar_softmax(const float* in, float* out, int V) {
  float m = -INFINITY;
  for (int i = 0; i < V; ++i) m = std::max(m, in[i]);
  double sum = 0.0;
  for (int i = 0; i < V; ++i) sum += out[i] = std::exp(in[i] - m);
  for (int i = 0; i < V; ++i) out[i] = out[i] / static_cast<float>(sum);
}

void scalar_rope(const float* x, const int32_t* positions, const float* inv_freq, const jitgen::cpu::RopeShape& s,
                 float* out) {
  const int64_t half = s.rotary / 2, width = s.heads * s.D;
  std::vector<float> cs(2 * half);
  for (int64_t r = 0; r < s.rows; ++r) {
    for (int64_t i = 0; i < half; ++i) {
      cs[i] = std::cos(inv_freq[i] * static_cast<float>(positions[r]));
      cs[half + i] = std::sin(inv_freq[i] * static_cast<float>(positions[r]));
    }
    for (int64_t h = 0; h < s.heads; ++h) {
      const float* xh = x + r * width + h * s.D;
      float* yh = out + r * width + h * s.D;
      for (int64_t i = 0; i < half; ++i) {
        yh[i] = xh[i] * cs[i] - xh[half + i] * cs[half + i];
        yh[half + i] = xh[half + i] * cs[i] + xh[i] * cs[half + i];
      }
    }
  }
}

// Token choice over GPT-2's 50257-entry rows (the sampler runs on the calling thread), rope for a Llama layer's q
// (32 heads of 128) at 1 and 128 rows, and the gated MLP's mul / the residual add over 8 x 2048. Run it with 1 thread
// for like-for-like rows (rope, mul and add split over the pool; the scalar loops do not).
void row_kernels() {
  const auto time_it = [](auto&& fn, int reps) { return min_time(fn, reps); };
  const int V = 50257;
  std::vector<float> logits(V), out(V);
  for (int i = 0; i < V; ++i) logits[i] = static_cast<float>((i * 7919) % 1000) * 0.01f - 5.0f;
  volatile int32_t sink = 0;
  const auto row = [&](const char* name, auto&& fast, auto&& slow) {
    const double tf = time_it(fast, 50), ts = time_it(slow, 20);
    std::printf("   %-28s %8.1f us | scalar loop %8.1f us (%.1fx)\n", name, tf * 1e6, ts * 1e6, ts / tf);
  };
  row("argmax_row V=50257", [&] { sink = jitgen::decoding::argmax_row(logits.data(), V); },
      [&] { sink = scalar_argmax(logits.data(), V); });
  row("sample_row V=50257 u=0.5", [&] { sink = jitgen::decoding::sample_row(logits.data(), V, 0.5f); },
      [&] { sink = scalar_sample(logits.data(), V, 0.5f); });
  row("softmax_row V=50257", [&] { jitgen::decoding::softmax_row(logits.data(), out.data(), V); },
      [&] { scalar_softmax(logits.data(), out.data(), V); });
  for (int64_t rows : {1, 128}) {
    const jitgen::cpu::RopeShape s{rows, 32, 128, 128};
    std::vector<float> x(rows * 32 * 128, 0.3f), y(x.size()), inv(64);
    std::vector<int32_t> pos(rows);
    for (int64_t r = 0; r < rows; ++r) pos[r] = static_cast<int32_t>(r + 7);
    for (int i = 0; i < 64; ++i) inv[i] = 1.0f / std::pow(10000.0f, i / 64.0f);
    const std::string name = "rope 32x128 rows " + std::to_string(rows);
    row(name.c_str(), [&] { jitgen::cpu::rope(x.data(), pos.data(), inv.data(), s, 1.0f, {}, y.data()); },
        [&] { scalar_rope(x.data(), pos.data(), inv.data(), s, y.data()); });
  }
  std::vector<float> a(8 * 2048, 0.5f), b(a.size(), 0.25f), c(a.size());
  row("mul 8x2048", [&] { jitgen::cpu::mul(a.data(), b.data(), c.data(), a.size()); },
      [&] { jitgen::ref::mul(a.data(), b.data(), c.data(), a.size()); });
  row("add 8x2048", [&] { jitgen::cpu::add(a.data(), b.data(), c.data(), a.size()); },
      [&] { jitgen::ref::add(a.data(), b.data(), c.data(), a.size()); });
  (void)sink;
}

// Small-M GEMM over Llama-shaped weights as a decode step reads them: `copies` distinct weights of one shape (more
// than the L3 holds in all), packed back to back and run one after another, so each panel streams from memory once
// per call as in a step. GFLOP/s per (shape, M, storage); fastest of `reps` passes over the copies.
void gemm_rows() {
  struct Shape {
    const char* name;
    int64_t K, N, copies;
  };
  const Shape shapes[] = {{"smollm2 up 576->1536", 576, 1536, 48}, {"smollm2 down 1536->576", 1536, 576, 48},
                          {"tinyllama up 2048->5632", 2048, 5632, 4}, {"tinyllama down 5632->2048", 5632, 2048, 4}};
  std::vector<float> x(128 * 5632), y(128 * 5632);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 61) * 1e-2f - 0.3f;
  for (const Shape& s : shapes)
    for (auto storage : {jitgen::cpu::WeightStorage::kF32, jitgen::cpu::WeightStorage::kBF16}) {
      const bool bf16 = storage == jitgen::cpu::WeightStorage::kBF16;
      std::vector<jitgen::Tensor> ws;
      jitgen::cpu::PreparedWeights pw(storage);
      for (int64_t c = 0; c < s.copies; ++c) {
        ws.push_back(jitgen::Tensor::zeros({s.N, s.K}));
        float* w = ws.back().f32();
        for (int64_t i = 0; i < s.N * s.K; ++i) w[i] = static_cast<float>((i + c) % 97) * 1e-3f - 0.05f;
        pw.add(ws.back(), true);
      }
      // KERNELS_BENCH_ROWS=3,4,7: other row counts (remainder tiles, a server's batch sizes).
      for (int M : jitgen::bench::row_counts("KERNELS_BENCH_ROWS", {1, 8, 32, 128}, 128)) {
        const double t = min_time(
            [&] {
              for (const jitgen::Tensor& w : ws)
                jitgen::cpu::linear_transposed(x.data(), w.f32(), M, s.K, s.N, y.data());
            },
            M >= 32 ? 3 : 6) / static_cast<double>(s.copies);
        std::printf("   gemm %-26s %s M=%-3d %8.3f ms  %6.1f GFLOP/s  %5.1f GB/s of weights\n", s.name,
                    bf16 ? "bf16" : "f32 ", M, t * 1e3, 2.0 * M * s.K * s.N / t / 1e9,
                    s.K * s.N * (bf16 ? 2.0 : 4.0) / t / 1e9);
      }
    }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) jitgen::runtime::set_num_threads(std::atoi(argv[1]));
  const int64_t V = 50257, C = 768, I = 3072;
  jitgen::Tensor head = jitgen::Tensor::zeros({V, C}), fc = jitgen::Tensor::zeros({C, I});
  for (int64_t i = 0; i < head.numel(); ++i) head.f32()[i] = static_cast<float>(i % 97) * 1e-3f;
  for (int64_t i = 0; i < fc.numel(); ++i) fc.f32()[i] = static_cast<float>(i % 89) * 1e-3f;
  jitgen::cpu::PreparedWeights pf(jitgen::cpu::WeightStorage::kF32);
  pf.add(head, true);
  std::vector<float> x(32 * I, 0.01f), y(32 * V);
  auto time_it = [](auto&& fn, int reps) {
    fn();
    const auto t0 = Clock::now();
    for (int r = 0; r < reps; ++r) fn();
    return std::chrono::duration<double>(Clock::now() - t0).count() / reps;
  };
  std::printf("threads %d, simd %s\n", jitgen::runtime::num_threads(), jitgen::cpu::simd_name());
  // bf16 by AVX512_BF16 dot products and by widening exist on avx512 only; other targets widen.
  if (argc > 2 && std::string(argv[2]) == "rows") {
    for (int round = 0; round < 3; ++round) row_kernels();
    return 0;
  }
  if (argc > 2 && std::string(argv[2]) == "gemm") {
    for (int round = 0; round < 2; ++round) gemm_rows();
    return 0;
  }
  if (argc > 2 && std::string(argv[2]) == "attention") {
    for (int round = 0; round < 3; ++round) attention_rows(time_it);
    return 0;
  }
  const std::vector<bool> dots = std::string(jitgen::cpu::simd_name()) == "avx512" ? std::vector<bool>{true, false}
                                                                                  : std::vector<bool>{false};
  for (int round = 0; round < 3; ++round) {
    const auto bw = jitgen::runtime::measure_bandwidth(2);
    const double t32 = time_it([&] { jitgen::cpu::linear_transposed(x.data(), head.f32(), 1, C, V, y.data()); }, 10);
    std::printf("read %.1f GB/s | lm_head M=1 f32 panels %.1f GB/s (%.0f%% of read)\n", bw.read_gbps,
                V * C * 4 / t32 / 1e9, 100 * V * C * 4 / t32 / 1e9 / bw.read_gbps);
    for (int M : {8, 32}) {  // the weight (154 MB) streams from memory: the batched decode's lm_head
      const double t = time_it([&] { jitgen::cpu::linear_transposed(x.data(), head.f32(), M, C, V, y.data()); }, 5);
      std::printf("   lm_head M=%d f32 panels %.2f ms, %.1f GFLOP/s\n", M, t * 1e3, 2.0 * M * C * V / t / 1e9);
    }
    {
      jitgen::cpu::PreparedWeights pb(jitgen::cpu::WeightStorage::kBF16);
      jitgen::Tensor head2 = jitgen::Tensor::zeros({V, C});
      pb.add(head2, true);
      for (bool dot : dots) {  // AVX512_BF16 vdpbf16ps, or widening to fp32 FMAs
        jitgen::cpu::avx512::set_bf16_dot(dot);
        const double tb =
            time_it([&] { jitgen::cpu::linear_transposed(x.data(), head2.f32(), 1, C, V, y.data()); }, 10);
        std::printf("   lm_head M=1 bf16 panels (%s) %.1f GB/s of bf16 (f32 time / this = %.2fx)\n",
                    dot ? "dot" : "widen", V * C * 2 / tb / 1e9, t32 / tb);
      }
      jitgen::cpu::PreparedWeights pcb(jitgen::cpu::WeightStorage::kBF16);
      jitgen::Tensor fc2 = jitgen::Tensor::zeros({C, I});
      pcb.add(fc2, false);
      for (bool dot : dots) {
        jitgen::cpu::avx512::set_bf16_dot(dot);
        for (int M : {1, 8, 32}) {
          const double t = time_it([&] { jitgen::cpu::linear(x.data(), fc2.f32(), nullptr, M, C, I, y.data()); }, 50);
          std::printf("   c_fc M=%d bf16 panels (%s) %.2f ms, %.1f GFLOP/s\n", M, dot ? "dot" : "widen", t * 1e3,
                      2.0 * M * C * I / t / 1e9);
        }
      }
      jitgen::cpu::avx512::set_bf16_dot(true);
    }
    jitgen::cpu::PreparedWeights pc(jitgen::cpu::WeightStorage::kF32);
    pc.add(fc, false);
    for (int M : {1, 8, 32}) {
      const double t = time_it([&] { jitgen::cpu::linear(x.data(), fc.f32(), nullptr, M, C, I, y.data()); }, 50);
      std::printf("   c_fc M=%d panels %.2f ms, %.1f GFLOP/s\n", M, t * 1e3, 2.0 * M * C * I / t / 1e9);
    }
    const int64_t panel_max_m = jitgen::cpu::panel_max_m();
    jitgen::cpu::set_panel_max_m(0);
    for (int M : {8, 32}) {
      const double t = time_it([&] { jitgen::cpu::linear(x.data(), fc.f32(), nullptr, M, C, I, y.data()); }, 50);
      std::printf("   c_fc M=%d BLAS   %.2f ms, %.1f GFLOP/s\n", M, t * 1e3, 2.0 * M * C * I / t / 1e9);
    }
    jitgen::cpu::set_panel_max_m(panel_max_m);
    attention_rows(time_it);
  }
}
