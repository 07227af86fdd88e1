// Token choice on the device: argmax and inverse-CDF sampling with the Philox stream of
// generate/sampling.h (same key, counter and uniform), one block per row.
#include <math_constants.h>

#include "ops/cuda/common.cuh"
#include "ops/cuda/philox.cuh"

namespace jitgen::cuda {

namespace {

constexpr int kThreads = 1024;

// (value, index) with torch.argmax order: a NaN beats everything (the first NaN wins), then the larger
// value, then the smaller index.
struct Best {
  float v;
  int32_t i;
};
__device__ __forceinline__ bool better(Best a, Best b) {
  const bool an = isnan(a.v), bn = isnan(b.v);
  if (an || bn) return an && (!bn || a.i < b.i);
  return a.v > b.v || (a.v == b.v && a.i < b.i);
}

__global__ void argmax_kernel(const float* logits, int64_t V, int32_t* tokens) {
  __shared__ float sv[32];
  __shared__ int32_t si[32];
  const float* row = logits + blockIdx.x * V;
  Best best{-CUDART_INF_F, INT32_MAX};
  for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
    const Best c{row[i], static_cast<int32_t>(i)};
    if (best.i == INT32_MAX || better(c, best)) best = c;
  }
  for (int o = 16; o > 0; o >>= 1) {
    const Best other{__shfl_xor_sync(0xffffffffu, best.v, o), __shfl_xor_sync(0xffffffffu, best.i, o)};
    if (other.i != INT32_MAX && (best.i == INT32_MAX || better(other, best))) best = other;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    sv[warp] = best.v;
    si[warp] = best.i;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    Best b{sv[0], si[0]};
    for (int w = 1; w < static_cast<int>(blockDim.x >> 5); ++w) {
      const Best c{sv[w], si[w]};
      if (c.i != INT32_MAX && (b.i == INT32_MAX || better(c, b))) b = c;
    }
    tokens[blockIdx.x] = b.i == INT32_MAX ? 0 : b.i;
  }
}

// sampling.h's sample_row on logits / temperature (divided, as the CPU temperature warper does): m = max,
// w_i = expf(l_i - m), S = sum (fp64), token = first i whose running sum exceeds u * S.
// Walks the row in blockDim-wide tiles with a block scan per tile, stopping at the tile that crosses u * S.
__global__ void sample_kernel(const float* logits, int64_t V, float temperature, uint32_t seed0, uint32_t seed1,
                              uint32_t step, int32_t* tokens) {
  __shared__ float fscratch[32];
  __shared__ double dscratch[32];
  __shared__ double warp_totals[32];
  __shared__ int32_t found;
  __shared__ int32_t last_positive;
  const float* row = logits + blockIdx.x * V;
  float m = -CUDART_INF_F;
  for (int64_t i = threadIdx.x; i < V; i += blockDim.x) m = fmaxf(m, row[i] / temperature);
  m = block_reduce(m, fscratch, MaxOp{}, -CUDART_INF_F);
  if (m == -CUDART_INF_F) {
    if (threadIdx.x == 0) tokens[blockIdx.x] = 0;
    return;
  }
  double total = 0;
  for (int64_t i = threadIdx.x; i < V; i += blockDim.x) total += static_cast<double>(expf(row[i] / temperature - m));
  total = block_reduce(total, dscratch, SumOp{}, 0.0);
  const float u = philox_uniform_dev(seed0, seed1, step, blockIdx.x, 0);
  const double threshold = static_cast<double>(u) * total;
  if (threadIdx.x == 0) {
    found = INT32_MAX;
    last_positive = 0;
  }
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  double carried = 0;  // sum of the tiles before this one
  for (int64_t base = 0; base < V; base += blockDim.x) {
    const int64_t i = base + threadIdx.x;
    const float w = i < V ? expf(row[i] / temperature - m) : 0.0f;
    double incl = w;  // inclusive scan: within the warp, then across warps
    for (int o = 1; o < 32; o <<= 1) {
      const double up = __shfl_up_sync(0xffffffffu, incl, o);
      if (lane >= o) incl += up;
    }
    if (lane == 31) warp_totals[warp] = incl;
    __syncthreads();
    double before = carried;
    for (int k = 0; k < warp; ++k) before += warp_totals[k];
    double tile = 0;
    for (int k = 0; k < warps; ++k) tile += warp_totals[k];
    if (w > 0.0f) {
      atomicMax(&last_positive, static_cast<int32_t>(i));
      if (before + incl > threshold) atomicMin(&found, static_cast<int32_t>(i));
    }
    __syncthreads();
    if (found != INT32_MAX) break;
    carried += tile;
  }
  if (threadIdx.x == 0) tokens[blockIdx.x] = found != INT32_MAX ? found : last_positive;
}

__global__ void philox_kernel(uint32_t seed0, uint32_t seed1, uint32_t step, int64_t R, float* out) {
  const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (r < R) out[r] = philox_uniform_dev(seed0, seed1, step, static_cast<uint32_t>(r), 0);
}

}  // namespace

void argmax_rows(const float* logits, int64_t R, int64_t V, int32_t* tokens, cudaStream_t st) {
  argmax_kernel<<<R, kThreads, 0, st>>>(logits, V, tokens);
  JITGEN_CUDA_LAUNCHED();
}

void sample_rows(const float* logits, int64_t R, int64_t V, float temperature, uint32_t seed0, uint32_t seed1,
                 uint32_t step, int32_t* tokens, cudaStream_t st) {
  JITGEN_CHECK(temperature > 0);
  sample_kernel<<<R, kThreads, 0, st>>>(logits, V, temperature, seed0, seed1, step, tokens);
  JITGEN_CUDA_LAUNCHED();
}

void philox_uniforms(uint32_t seed0, uint32_t seed1, uint32_t step, int64_t R, float* out, cudaStream_t st) {
  philox_kernel<<<blocks_for(R, 128), 128, 0, st>>>(seed0, seed1, step, R, out);
  JITGEN_CUDA_LAUNCHED();
}

}  // namespace jitgen::cuda
