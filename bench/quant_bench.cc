// Quantized linear kernels (ops/quant.h) against fp32 / bf16 panels and the read bandwidth, interleaved in one run:
//   [JITGEN_SIMD=<target>] quant_bench [threads] [rounds]
// Streams the 48 linear weights of GPT-2 124M (12 x c_attn [768, 2304], attn.c_proj [768, 768], c_fc [768, 3072],
// mlp.c_proj [3072, 768]: 85M weights, far beyond the LLC in every format) at M = 1, 8, 32, as one decode step
// does, and prints per format the milliseconds, the GB/s of that format's bytes (what the roofline counts) and
// GFLOP/s. Each round measures the read probe and then every format, so drift hits all of them alike.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ops/cpu_kernels.h"
#include "ops/prepared_weights.h"
#include "ops/quant.h"
#include "runtime/roofline.h"
#include "runtime/thread_pool.h"

using Clock = std::chrono::steady_clock;
namespace cpu = jitgen::cpu;

int main(int argc, char** argv) {
  if (argc > 1) jitgen::runtime::set_num_threads(std::atoi(argv[1]));
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
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
    for (int M : {1, 8, 32})
      for (size_t f = 0; f < formats.size(); ++f) {
        auto step = [&] {
          for (const jitgen::Tensor& w : copies[f])
            cpu::linear(x.data(), w.f32(), nullptr, M, w.dim(0), w.dim(1), y.data());
        };
        step();
        const int reps = M == 1 ? 8 : 4;
        double best = 1e30;
        for (int r = 0; r < reps; ++r) {
          const auto t0 = Clock::now();
          step();
          best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
        }
        std::printf("  M=%-2d %-13s %8.2f ms  %6.1f GB/s (%3.0f%% of read)  %7.1f GFLOP/s\n", M, formats[f].c_str(),
                    best * 1e3, bytes[f] / best / 1e9, 100 * bytes[f] / best / 1e9 / bw.read_gbps,
                    M * flops_per_row / best / 1e9);
      }
  }
}
