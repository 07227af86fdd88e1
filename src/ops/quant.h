#pragma once
// Weight-only quantization for the CPU linear layers: int8 and int4 weights, fp32 activations quantized per row
// to int8 inside the call, integer dot products per group, fp32 accumulation across groups.
//
// Math (the same in the scalar oracle ref::quant_linear, the portable panels and the SIMD kernels):
//   weight    W[k][n] ~= s[n][g] * (u[n][k] - z[n][g])      g = k / G; u an unsigned code of `bits` bits
//   activation x[m][k] ~= sx[m] * q[m][k]                   q in [-127, 127], sx = max|x[m]| / 127
//   y[m][n] = sx[m] * sum_g s[n][g] * (sum_{k in g} q[m][k] * u[n][k]  -  z[n][g] * sum_{k in g} q[m][k]) + bias[n]
// The inner sums are exact int32 arithmetic; only the per-group fp32 accumulation differs in rounding between the
// kernels and the oracle (FMA vs multiply-add), so tests compare with a tolerance of a few ulps of the terms.
//
// Formats (QuantSpec):
//   int8: symmetric, u = round(W / s) + 128, z = 128, s = max|W| / 127 over a group of 32 k (or the whole
//         output channel, group = 0).
//   int4: u in [0, 15], groups of 32 or 128 k. Symmetric: z = 8, s = max|W| / 7 and q = clamp(round(W / s), -8, 7)
//         (code 0 = -8 is never used by a symmetric group, as in GPTQ's sym). With a zero point: s = (max - min) / 15,
//         z = clamp(round(-min / s), 0, 15), stored per group and output channel.
//   int4 with llama.cpp Q4_0's scale rule ("-q40"): z = 8, s = m / -8 where m is the group's weight of largest
//         magnitude (the first one on a tie), so m itself is code 0 (q = -8) and all 16 levels are used; s carries
//         m's sign (a negative scale flips the grid, so the 8 levels on m's side reach |m|). Finer steps than max / 7
//         (|s| = max / 8) at the same 4.5 bits; the kernels are the symmetric ones (a signed 16-bit scale).
//   The scale is stored as bf16 or fp16 (`scale_f16`), rounded to nearest even, and the codes are computed from the
//   stored (rounded) scale, so the dequantized value is exactly what the kernels multiply.
//
// Panel layout (QuantLinear), for y[M, N] = x[M, K] @ W[K, N]: K is padded to whole groups (Kp = groups * G, G a
// multiple of 4; padded codes are z, padded activations 0), N to panels of 32 columns (padded columns have scale
// 0). Each (panel p, group g) is one block, blocks in order p-major ([panels][groups]), every block 64-byte aligned,
// holding everything a tile reads for that group in the order it reads it:
//   codes:  G / 4 "quads" of 4 consecutive k; per quad two 64-byte blocks (columns 0-15 and 16-31 of the panel),
//           where bytes 4i..4i+3 are u[col 16h + i][k = 4 quad + 0..3]: the operand of AVX-512 VNNI's vpdpbusd (16
//           int32 lanes, one per column, each the dot of 4 u8 codes with 4 s8 activations). int4 stores the two
//           64-byte blocks of a quad in one: low nibbles are the block of columns 0-15, high nibbles that of 16-31,
//           so unpacking inside the tile is one AND and one shift. G * 32 bytes (int8) or G * 16 (int4).
//   scales: 32 uint16 (bf16 or fp16), one per column: 64 bytes.
//   zeros:  (int4 with zero points only) 32 uint8, one per column, then 32 bytes of padding: 64 bytes.
// Why interleaved rather than three arrays: a GEMV then reads one matrix as a single forward stream, and
// PreparedWeights puts consecutive matrices back to back on huge pages (core/memory.h StreamArena), so a decode
// step streams all its weights as one run (the hardware prefetcher runs on across group and matrix boundaries).
//
// Permuted input rows (pre-quantized checkpoints, models/quantized_checkpoint.h): GPTQ with desc_act stores a group
// index per input row (g_idx), so a group is not a run of consecutive k. Such a matrix carries `perm`: slot s of the
// padded k axis (groups * G slots, group g = slots [g G, g G + G)) holds input row perm[s], or padding (-1). The
// kernels gather x[m][perm[s]] (0 for padding) before quantizing the activations; since sx = max|x[m]| does not
// depend on the order and each group's int32 sum is exact, y equals the same math over the unpermuted rows with
// per-row group lookup g_idx[k] (tests/quant_checkpoint_test.cc checks it against that formula).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/memory.h"

namespace jitgen::cpu {

struct LinearEpilogue;

struct QuantSpec {
  int bits = 8;            // 8 or 4
  int group = 32;          // k per scale: 32 or 128 (int4: 32 or 128; int8: 32), 0 = one group per output channel
  bool scale_f16 = false;  // scale stored as fp16 instead of bf16
  bool zero_point = false; // int4 only: per-group zero point instead of the symmetric z = 8
  bool q4_0_scale = false; // int4 symmetric only: llama.cpp Q4_0's s = m / -8 (16 levels) instead of max|W| / 7

  // "int8", "int8-ch", "int4", "int4-g128", "-q40", "-f16", "-zp": parse_quant_spec accepts what name() prints.
  std::string name() const;
};
// "int8" (= int8 group 32), "int8-ch" (per output channel), "int4" (= int4 group 32), "int4-g128", each optionally
// followed by (int4) "-q40" (Q4_0's scale rule), "-f16" (fp16 scales) and (int4, not with -q40) "-zp" (zero points). Throws Error(kInvalidArgument) naming `what`
// (the option or variable that gave it) and the accepted values otherwise.
QuantSpec parse_quant_spec(const std::string& text, const std::string& what);

// A quantized matrix in plain (row = output channel) form: what the oracle reads and what panels are packed from.
struct QuantMatrix {
  QuantSpec spec;
  int64_t K = 0, N = 0;
  int64_t G = 0;       // k per group (spec.group, or K rounded up to a multiple of 4 per channel)
  int64_t groups = 0;  // ceil(K / G)
  std::vector<uint8_t> u;       // [N][groups * G] codes; padded k hold z
  std::vector<uint16_t> scale;  // [N][groups] bf16 or fp16 bits
  std::vector<uint8_t> zero;    // [N][groups]
  std::vector<int32_t> perm;    // empty (slot = k), or [groups * G]: the input row of each slot, -1 = padding

  int64_t k_padded() const { return groups * G; }
  float scale_at(int64_t n, int64_t g) const;
  float dequant(int64_t k, int64_t n) const;  // only without perm
  // W [K, N] fp32 (kernel layout, unpermuted): s * (u - z) for every stored code; exact (an fp16 / bf16 scale times
  // an integer below 2^9 needs at most 20 significant bits).
  std::vector<float> dequantize() const;
  void dequantize_into(float* out) const;  // the same into out [K, N], zeroed by the caller
};

// w [K, N] (Conv1D, transposed == false) or [N, K] (nn.Linear, transposed == true), fp32. Throws Error
// (kInvalidArgument) on a NaN or Inf weight, or on a spec the format does not have.
QuantMatrix quantize(const float* w, bool transposed, int64_t K, int64_t N, const QuantSpec& spec);

struct QuantLinear {
  QuantSpec spec;
  int64_t K = 0, N = 0, G = 0, groups = 0, panels = 0;
  std::shared_ptr<uint8_t> data;  // panels * groups blocks of block_bytes() (layout above), 64-byte aligned
  std::shared_ptr<const std::vector<int32_t>> perm;  // QuantMatrix::perm, or null

  int64_t k_padded() const { return groups * G; }
  bool has_zeros() const { return spec.zero_point; }
  size_t code_bytes_per_group() const { return static_cast<size_t>(G) * 32 * spec.bits / 8; }  // one panel
  size_t block_bytes() const { return code_bytes_per_group() + 64 + (has_zeros() ? 64 : 0); }
  size_t stored_bytes() const { return static_cast<size_t>(panels * groups) * block_bytes(); }  // `data`'s size
  const uint8_t* group_codes(int64_t p, int64_t g) const { return data.get() + (p * groups + g) * block_bytes(); }
  const uint16_t* group_scales(int64_t p, int64_t g) const {
    return reinterpret_cast<const uint16_t*>(group_codes(p, g) + code_bytes_per_group());
  }
  const uint8_t* group_zeros(int64_t p, int64_t g) const { return group_codes(p, g) + code_bytes_per_group() + 64; }
  // Everything a GEMV uses: codes, scales and zero points, not the zeros' padding (so rates computed from it are
  // not flattered by the padding's cache lines).
  size_t nbytes() const;
};
// `arena`: where the blocks go (right after what it handed out before, core/memory.h); null: a buffer of their own.
QuantLinear pack_quant(const QuantMatrix& m, StreamArena* arena = nullptr);
// pack_quant in parts, for a matrix quantized in blocks of rows (PreparedWeights::add_quantized_head) whose codes
// never exist whole: quant_panels makes the zeroed panels of N rows (spec, K, G, groups and perm from `like`, one of
// the parts), pack_quant_rows fills rows [n0, n0 + part.N) from `part` -- n0 a multiple of 32 and part.N too, but for
// the last part -- with the bytes pack_quant would write there.
QuantLinear quant_panels(const QuantMatrix& like, int64_t N, StreamArena* arena = nullptr);
void pack_quant_rows(const QuantMatrix& part, int64_t n0, QuantLinear& w);

// Rows of fp32 activations quantized for the integer dot products: q [M][Kp] (padded k = 0), sx [M], and the
// per-group sums of q [M][groups] that the zero-point term needs. A non-finite row gets sx = NaN and q = 0, so its
// outputs are NaN as in fp32.
struct QuantActs {
  int64_t M = 0, Kp = 0, G = 0, groups = 0;
  std::vector<int8_t> q;
  std::vector<float> sx;
  std::vector<int32_t> qsum;
};
void quantize_activations(const float* x, int64_t M, int64_t K, int64_t G, int64_t groups, QuantActs& out);
// The same, bit for bit, rows in parallel on the pool and vectorised on the vnni path: what quant_linear uses.
void quantize_activations_fast(const float* x, int64_t M, int64_t K, int64_t G, int64_t groups, QuantActs& out);

// y[M, N] = epilogue(x[M, K] @ W + bias) on the pool, through the fastest path allowed (quant_simd()).
void quant_linear(const float* x, int64_t M, const QuantLinear& w, const float* bias, const LinearEpilogue& e, float* y);

// Which quantized kernels run: "amx" (AMX-INT8 tiles for batches of 16 rows and more, the vnni kernels below that
// and wherever the OS refuses the tile state: Intel Xeon since Sapphire Rapids), "vnni" (AVX-512 VNNI vpdpbusd), "avxvnni" (the 256-bit VEX vpdpbusd of AVX-VNNI
// CPUs without AVX-512: Intel client cores since Alder Lake), "avx2" (vpmaddubsw) or "portable" (scalar, over the
// same panels). At start the best this CPU runs, capped by JITGEN_SIMD (avx2: avxvnni or avx2; sse4 / ssse3 / scalar /
// portable: portable) and by JITGEN_QUANT_PATH=<name> (the best runnable path at or below it; an unknown name warns
// on stderr once and caps nothing). Every path gives the same integer sums; avxvnni and avx2 are bit-identical, and
// so are amx and vnni.
enum class QuantPath { kPortable = 0, kAvx2 = 1, kAvxVnni = 2, kVnni = 3, kAmx = 4 };
QuantPath quant_path();
QuantPath quant_path_supported();                // the best path allowed at start (above)
std::vector<QuantPath> quant_paths_runnable();   // every path this CPU runs within those caps, lowest first
void set_quant_path(QuantPath p);                // the best runnable path at or below p (tests force each one)
const char* quant_path_name(QuantPath p);

}  // namespace jitgen::cpu

namespace jitgen::ref {
// The oracle: the math above, scalar, straight from the plain matrix (no panels). bias may be null.
void quant_linear(const float* x, int64_t M, const cpu::QuantMatrix& w, const float* bias, float* y);
}  // namespace jitgen::ref
