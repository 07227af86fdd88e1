// Quantized linear kernels (ops/quant.h) against fp32 / bf16 panels and the read bandwidth, interleaved in one run:
//   [JITGEN_SIMD=<target>] [QUANT_BENCH_M=1,8,32] quant_bench [threads] [rounds] [gpt2 | smollm2-135m |
//     tinyllama-1.1b] [formats]
// The Llama shapes (smollm2-135m, tinyllama-1.1b: every layer's q, k, v, o, gate, up, down and the tied lm_head,
// quantized too) run only the quantized formats (default int8,int4) through cpu::quant_linear directly, and print
// the thread CPU time next to the wall time: on a loaded machine the CPU time is what a kernel change moves.
// Streams the 48 linear weights of GPT-2 124M (12 x c_attn [768, 2304], attn.c_proj [768, 768], c_fc [768, 3072],
// mlp.c_proj [3072, 768]: 85M weights, far beyond the LLC in every format) at M = 1, 8, 32, as one decode step
// does, and prints per format the milliseconds, the GB/s of that format's bytes (what the roofline counts) and
// GFLOP/s. Each round measures the read probe and then every format, so drift hits all of them alike.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/memory.h"
#include "core/tensor.h"
#include "ops/cpu_kernels.h"
#include "ops/prepared_weights.h"
#include "ops/quant.h"
#include "runtime/roofline.h"
#include "runtime/thread_pool.h"
#include "row_counts.h"

using Clock = std::chrono::steady_clock;
namespace cpu = jitgen::cpu;

namespace {

double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// The batch rows to time: QUANT_BENCH_M="1,8" (default 1, 8, 32); one M alone is what a profile of a tile wants.
std::vector<int> batch_rows() { return jitgen::bench::row_counts("QUANT_BENCH_M", {1, 8, 32}, 32); }

// One decode step's linear layers of a Llama shape: K x N per matrix, layers times, then the lm_head.
int llama_shapes(const std::string& preset, const std::string& format_list, int rounds) {
  int64_t C, F, KV, V, L;
  if (preset == "smollm2-135m") C = 576, F = 1536, KV = 192, V = 49152, L = 30;
  else if (preset == "tinyllama-1.1b") C = 2048, F = 5632, KV = 256, V = 32000, L = 22;
  else {
    std::fprintf(stderr, "quant_bench: unknown shape %s (gpt2, smollm2-135m, tinyllama-1.1b)\n", preset.c_str());
    return 2;
  }
  struct Shape {
    int64_t K, N;
  };
  const Shape layer[] = {{C, C}, {C, KV}, {C, KV}, {C, C}, {C, F}, {C, F}, {F, C}};
  std::vector<std::string> formats;
  for (size_t a = 0, b; a <= format_list.size(); a = b + 1) {
    b = format_list.find(',', a);
    if (b == std::string::npos) b = format_list.size();
    formats.push_back(format_list.substr(a, b - a));
  }
  // Distinct matrices (no cache reuse between layers); each generated, quantized and dropped in turn.
  std::vector<std::vector<cpu::QuantLinear>> mats(formats.size());
  // Each format's blocks back to back on its own arena (huge pages), in step order, as PreparedWeights lays them.
  std::vector<jitgen::StreamArena> arenas(formats.size());
  std::vector<double> bytes(formats.size()), macs_per_row(1, 0.0);
  uint32_t seed = 1;
  auto make = [&](int64_t K, int64_t N) {
    std::vector<float> w(static_cast<size_t>(K * N));
    for (float& v : w) {
      seed = seed * 1664525u + 1013904223u;
      v = (static_cast<float>(seed >> 8) / 16777216.0f - 0.5f) * 0.1f;
    }
    for (size_t f = 0; f < formats.size(); ++f) {
      mats[f].push_back(cpu::pack_quant(cpu::quantize(w.data(), false, K, N, cpu::parse_quant_spec(formats[f], "format")), &arenas[f]));
      bytes[f] += static_cast<double>(mats[f].back().nbytes());
    }
    macs_per_row[0] += static_cast<double>(K * N);
  };
  for (int64_t l = 0; l < L; ++l)
    for (const Shape& s : layer) make(s.K, s.N);
  make(C, V);
  for (jitgen::StreamArena& arena : arenas) arena.settle();
  std::vector<float> x(static_cast<size_t>(32 * F)), y(static_cast<size_t>(32 * V));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i % 37) - 18) * 0.05f;
  std::printf("quant_bench: %s shape, %lld layers + lm_head (%zu matrices), threads %d, quant kernels %s\n",
              preset.c_str(), static_cast<long long>(L), mats[0].size(), jitgen::runtime::num_threads(),
              cpu::quant_path_name(cpu::quant_path()));
  for (size_t f = 0; f < formats.size(); ++f) std::printf("  %-13s %7.1f MB\n", formats[f].c_str(), bytes[f] / 1e6);
  const cpu::LinearEpilogue none;
  for (int round = 0; round < rounds; ++round) {
    const auto bw = jitgen::runtime::measure_bandwidth(2);
    std::printf("round %d: read probe %.1f GB/s\n", round, bw.read_gbps);
    for (int M : batch_rows())
      for (size_t f = 0; f < formats.size(); ++f) {
        auto step = [&] {
          for (const cpu::QuantLinear& w : mats[f]) cpu::quant_linear(x.data(), M, w, nullptr, none, y.data());
        };
        step();
        double best = 1e30, best_cpu = 1e30;
        for (int r = 0; r < (M == 1 ? 8 : 4); ++r) {
          const auto t0 = Clock::now();
          const double c0 = thread_cpu_s();
          step();
          best_cpu = std::min(best_cpu, thread_cpu_s() - c0);
          best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
        }
        std::printf("  M=%-2d %-10s %8.2f ms wall %8.2f ms cpu  %6.1f GB/s (%3.0f%% of read)  %7.1f GMAC/s\n", M,
                    formats[f].c_str(), best * 1e3, best_cpu * 1e3, bytes[f] / best / 1e9,
                    100 * bytes[f] / best / 1e9 / bw.read_gbps, M * macs_per_row[0] / best / 1e9);
      }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) jitgen::runtime::set_num_threads(std::atoi(argv[1]));
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  if (argc > 3 && std::string(argv[3]) != "gpt2") return llama_shapes(argv[3], argc > 4 ? argv[4] : "int8,int4", rounds);
  const int64_t C = 768, L = 12;
  struct Shape {
    int64_t K, N;
  };
  const Shape shapes[] = {{C, 3 * C}, {C, C}, {C, 4 * C}, {4 * C, C}};
  std::vector<jitgen::Tensor> ws;
  uint32_t seed = 1;
  for (int64_t l = 0; l < L; ++l)
    for (const Shape& s : shapes) {
      jitgen::Tensor t = jitgen::Tensor::zeros({s.K, s.N});
      for (int64_t i = 0; i < t.numel(); ++i) {
        seed = seed * 1664525u + 1013904223u;
        t.f32()[i] = (static_cast<float>(seed >> 8) / 16777216.0f - 0.5f) * 0.1f;
      }
      ws.push_back(t);
    }
  const std::vector<std::string> formats = {"f32", "bf16", "int8", "int8-ch", "int4", "int4-g128", "int4-g128-zp"};
  // Each format's prepared copy of the same weights (copies of the tensors: the registry keys on their address).
  std::vector<std::vector<jitgen::Tensor>> copies(formats.size());
  std::vector<std::unique_ptr<cpu::PreparedWeights>> sets;
  std::vector<double> bytes(formats.size());
  for (size_t f = 0; f < formats.size(); ++f) {
    const cpu::WeightFormat wf = cpu::parse_weight_format(formats[f], "format");
    const cpu::ScopedWeightFormat scope(wf);
    sets.push_back(std::make_unique<cpu::PreparedWeights>(wf.storage));
    for (const jitgen::Tensor& w : ws) {
      jitgen::Tensor c = jitgen::Tensor::zeros(w.shape());
      std::copy(w.f32(), w.f32() + w.numel(), c.f32());
      sets.back()->add(c, false);
      copies[f].push_back(c);
    }
    bytes[f] = static_cast<double>(sets.back()->nbytes());
  }
  std::vector<float> x(32 * 4 * C, 0.01f), y(32 * 4 * C);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i % 37) - 18) * 0.05f;
  double flops_per_row = 0;
  for (const jitgen::Tensor& w : ws) flops_per_row += 2.0 * w.dim(0) * w.dim(1);
  std::printf("quant_bench: GPT-2 124M linear weights (%zu matrices), threads %d, simd %s, quant kernels %s\n",
              ws.size(), jitgen::runtime::num_threads(), cpu::simd_name(), cpu::quant_path_name(cpu::quant_path()));
  for (size_t f = 0; f < formats.size(); ++f) std::printf("  %-13s %7.1f MB\n", formats[f].c_str(), bytes[f] / 1e6);
  for (int round = 0; round < rounds; ++round) {
    const auto bw = jitgen::runtime::measure_bandwidth(2);
    std::printf("round %d: read probe %.1f GB/s\n", round, bw.read_gbps);
    for (int M : batch_rows())
      for (size_t f = 0; f < formats.size(); ++f) {
        auto step = [&] {
          for (const jitgen::Tensor& w : copies[f])
            cpu::linear(x.data(), w.f32(), nullptr, M, w.dim(0), w.dim(1), y.data());
        };
        step();
        const int reps = M == 1 ? 8 : 4;
        std::vector<double> times;
        for (int r = 0; r < reps; ++r) {
          const auto t0 = Clock::now();
          step();
          times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
        }
        // The best pass is what the kernel can do (the probe is a best too); the median is nearer what a
        // generate() step, an average over many passes, sees on a machine whose bandwidth moves.
        std::sort(times.begin(), times.end());
        const double best = times.front(), median = times[times.size() / 2];
        std::printf("  M=%-2d %-13s %8.2f ms  %6.1f GB/s (%3.0f%% of read; median %3.0f%%)  %7.1f GFLOP/s\n", M,
                    formats[f].c_str(), best * 1e3, bytes[f] / best / 1e9, 100 * bytes[f] / best / 1e9 / bw.read_gbps,
                    100 * bytes[f] / median / 1e9 / bw.read_gbps, M * flops_per_row / best / 1e9);
      }
  }
}
