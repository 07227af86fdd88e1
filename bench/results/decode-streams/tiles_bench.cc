// The exploration program behind this folder's M sweep (not part of the build): cpu::linear on `copies` fp32 [K, N]
// weights packed back to back (copies x K x N x 4 bytes beyond the L3: streamed from memory, as in a decode step; 1
// copy: hot in L2 / L3), 1 thread, M = 1 .. 32, best of 20 passes. Built against a build/ tree:
//   g++ -O2 -std=c++20 -Isrc -Iinclude -Ibuild/src tiles_bench.cc -o /tmp/tiles_bench -Wl,--start-group \
//     $(find build/src -name 'lib*.a') -Wl,--end-group -lhwy -lopenblas -lfmt -lpthread
//   /tmp/tiles_bench K N COPIES
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "core/tensor.h"
#include "ops/cpu_kernels.h"
#include "ops/prepared_weights.h"
#include "runtime/thread_pool.h"
using Clock = std::chrono::steady_clock;
int main(int argc, char** argv) {
  jitgen::runtime::set_num_threads(1);
  const int64_t K = argc > 1 ? atoi(argv[1]) : 768, N = argc > 2 ? atoi(argv[2]) : 3072;
  const int copies = argc > 3 ? atoi(argv[3]) : 1;
  std::vector<jitgen::Tensor> ws;
  jitgen::cpu::PreparedWeights pw(jitgen::cpu::WeightStorage::kF32);
  for (int c = 0; c < copies; ++c) {
    ws.push_back(jitgen::Tensor::zeros({K, N}));
    for (int64_t i = 0; i < K * N; ++i) ws.back().f32()[i] = (i % 97) * 1e-3f;
    pw.add(ws.back(), false);
  }
  std::vector<float> x(64 * K, 0.01f), y(64 * N);
  for (int M : {1, 2, 3, 4, 6, 8, 9, 12, 16, 32}) {
    double best = 1e9;
    for (int r = 0; r < 20; ++r) {
      auto t0 = Clock::now();
      for (auto& w : ws) jitgen::cpu::linear(x.data(), w.f32(), nullptr, M, K, N, y.data());
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count() / copies);
    }
    std::printf("K=%ld N=%ld M=%2d %8.3f ms %6.1f GFLOP/s  %.1f GB/s\n", K, N, M, best * 1e3, 2.0 * M * K * N / best / 1e9, K * N * 4 / best / 1e9);
  }
}
