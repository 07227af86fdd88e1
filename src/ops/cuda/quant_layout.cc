// Host side of the GPU's quantized linears (ops/cuda/quant_layout.h): the repacking of the CPU panels into the device
// layout, the scratch size, and the scalar emulation of the kernels that host tests check against ref::quant_linear.
#include "ops/cuda/quant_layout.h"

#include <algorithm>

#include <cmath>

#include <fmt/format.h>

#include "jitgen/error.h"
#include "ops/cuda/quant_gemm.h"
#include "ops/quant.h"

namespace jitgen::cuda {

namespace {

// The code of (column n, slot kk of group g) in the CPU panels (ops/quant.h: panel p = n / 32, quad kk / 4, column
// half n % 32 / 16 as a separate 64-byte block for int8 or the nibble for int4).
int panel_code(const cpu::QuantLinear& w, int64_t n, int64_t g, int64_t kk) {
  const int64_t p = n / 32, j = n % 32, h = j / 16, i = j % 16, q = kk / 4, r = kk % 4;
  const uint8_t* block = w.group_codes(p, g);
  if (w.spec.bits == 8) return block[(q * 2 + h) * 64 + 4 * i + r];
  return (block[q * 64 + 4 * i + r] >> (4 * h)) & 15;
}

// Byte offset and nibble shift of slot kk (within its padded group) of an int4 row: chunk of 32, word kk % 32 / 8, byte
// kk % 4, low nibble for kk % 8 < 4.
void int4_position(int64_t kk, int64_t& byte, int& shift) {
  const int64_t chunk = kk / 32, in = kk % 32, word = in / 8, e = in % 8;
  byte = chunk * 16 + word * 4 + e % 4;
  shift = e < 4 ? 0 : 4;
}

}  // namespace

DeviceQuantMatrix to_device_layout(const cpu::QuantLinear& w) {
  if (!(w.spec.bits == 8 || w.spec.bits == 4) || w.G <= 0 || w.G % 4 != 0 || w.groups <= 0 || w.K <= 0 || w.N <= 0)
    throw_invalid_argument(fmt::format("CUDA quantized linear: format {} with group {} (K = {}, N = {}) is not one the "
                                       "kernels run (int8 or int4, groups a positive multiple of 4)",
                                       w.spec.name(), w.G, w.K, w.N));
  DeviceQuantMatrix d;
  d.bits = w.spec.bits;
  d.scale_f16 = w.spec.scale_f16;
  d.K = w.K;
  d.N = w.N;
  d.G = w.G;
  d.groups = w.groups;
  d.Gd = quant_group_padded(w.G, d.bits);
  d.row_bytes = d.groups * d.Gd * d.bits / 8;
  d.zero_const = d.bits == 8 ? 128 : 8;
  d.codes.assign(static_cast<size_t>(d.N * d.row_bytes), 0);
  d.scales.assign(static_cast<size_t>(d.N * d.groups), 0);
  if (w.has_zeros()) d.zeros.assign(static_cast<size_t>(d.N * d.groups), 0);
  if (w.perm) d.perm = *w.perm;
  for (int64_t n = 0; n < d.N; ++n) {
    uint8_t* row = d.codes.data() + n * d.row_bytes;
    for (int64_t g = 0; g < d.groups; ++g) {
      d.scales[n * d.groups + g] = w.group_scales(n / 32, g)[n % 32];
      if (w.has_zeros()) d.zeros[n * d.groups + g] = w.group_zeros(n / 32, g)[n % 32];
      for (int64_t kk = 0; kk < d.G; ++kk) {
        const int code = panel_code(w, n, g, kk);
        const int64_t slot = g * d.Gd + kk;
        if (d.bits == 8) {
          row[slot] = static_cast<uint8_t>(code ^ 0x80);  // u - 128 as a signed byte
        } else {
          int64_t byte;
          int shift;
          int4_position(slot, byte, shift);
          row[byte] |= static_cast<uint8_t>(code << shift);
        }
      }
    }
  }
  return d;
}

int DeviceQuantMatrix::code_at(int64_t n, int64_t s) const {
  const int64_t g = s / G, slot = g * Gd + s % G;
  const uint8_t* row = codes.data() + n * row_bytes;
  if (bits == 8) return row[slot] ^ 0x80;
  int64_t byte;
  int shift;
  int4_position(slot, byte, shift);
  return (row[byte] >> shift) & 15;
}

int quant_rows_per_tile(int64_t M) { return M <= 1 ? 1 : M == 2 ? 2 : M <= 4 ? 4 : 8; }

size_t quant_scratch_bytes(int64_t slots, int64_t M) {
  return static_cast<size_t>((M * slots + 15) / 16 * 16) + static_cast<size_t>(M) * sizeof(float);
}
size_t quant_scratch_bytes(const DeviceQuantMatrix& w, int64_t M) { return quant_scratch_bytes(w.slots(), M); }

void quant_linear_emulated(const float* x, int64_t M, const DeviceQuantMatrix& w, const float* bias, float* y) {
  // Activations: the CPU's quantization (the quantize kernel matches it bit for bit), moved to padded slots.
  std::vector<float> gathered;
  const float* src = x;
  int64_t width = w.K;
  if (!w.perm.empty()) {
    width = static_cast<int64_t>(w.perm.size());
    gathered.assign(static_cast<size_t>(M * width), 0.0f);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t s = 0; s < width; ++s)
        if (w.perm[s] >= 0 && w.perm[s] < w.K) gathered[m * width + s] = x[m * w.K + w.perm[s]];
    src = gathered.data();
  }
  cpu::QuantActs a;
  cpu::quantize_activations(src, M, width, w.G, w.groups, a);
  const int64_t slots = w.slots();
  std::vector<int8_t> q(static_cast<size_t>(M * slots), 0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t s = 0; s < w.groups * w.G; ++s) q[m * slots + s / w.G * w.Gd + s % w.G] = a.q[m * a.Kp + s];

  const int64_t chunks = w.row_bytes / kQuantChunkBytes, chunk_k = quant_chunk_k(w.bits), per_group = w.Gd / chunk_k;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < w.N; ++n) {
      float lane[32] = {};
      for (int l = 0; l < 32; ++l)
        for (int64_t c = l; c < chunks; c += 32) {
          const int64_t g = c / per_group;
          uint32_t cw[4], xw[8];
          std::memcpy(cw, w.codes.data() + n * w.row_bytes + c * kQuantChunkBytes, 16);
          std::memcpy(xw, q.data() + m * slots + c * chunk_k, static_cast<size_t>(chunk_k));
          const int32_t z = w.zeros.empty() ? w.zero_const : w.zeros[n * w.groups + g];
          const int32_t zc = w.bits == 8 ? z - 128 : z;
          const int32_t dot = w.bits == 8 ? quant_chunk_dot<8>(cw, xw, zc) : quant_chunk_dot<4>(cw, xw, zc);
          lane[l] = std::fma(quant_scale_f32(w.scales[n * w.groups + g], w.scale_f16), static_cast<float>(dot), lane[l]);
        }
      for (int o = 16; o > 0; o >>= 1) {  // the warp's xor-shuffle tree
        float next[32];
        for (int l = 0; l < 32; ++l) next[l] = lane[l] + lane[l ^ o];
        std::copy(next, next + 32, lane);
      }
      float v = lane[0] * a.sx[m];
      if (bias) v += bias[n];
      y[m * w.N + n] = v;
    }
}

}  // namespace jitgen::cuda
