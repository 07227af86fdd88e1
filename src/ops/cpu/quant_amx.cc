// Quantized panels with AMX (Intel Xeon since Sapphire Rapids): TDPBSUD multiplies a tile of 16 rows of signed
// activation bytes by a tile of unsigned weight codes (16 rows x 16 columns x 4 qc k per instruction: 64 k, or 32 for
// groups of 32), the weight tile's rows being quads of 4 k x 16 columns, which is what the panel layout already
// holds: quad q of a block (ops/quant.h) is 64 bytes for columns 0-15 (4 k each) and 64 for columns 16-31, i.e. one
// row of the B tile of each column half, 128 bytes apart. int4 codes are unpacked into the
// same layout first (a tile load cannot split nibbles).
//
// The sums are the vnni tile's exact int32 sums (sum of x * u; the zero-point term -z * sum(q) added after), and each
// group's fp32 step is the same FMA of scale and converted sum in the same group order, times sx at the end, so the
// outputs are bit-identical to the vnni path (Quant.AmxIsBitIdenticalToVnni). Batches below kMinRows rows, the rows
// past a batch's last whole 16-row tile, and groups the tiles cannot cut (G not a multiple of 32) take the vnni
// kernels: a decode row streams its weights, and a tile of 16 rows would compute mostly padding.
//
// Each group's int32 sums leave the tiles (a tile store) to be scaled in AVX-512 registers, so groups of 32 spend most
// of their time there; groups of 128 and per-channel ones gain the most.
//
// Linux hands out the 8 KiB tile state only to a process that asks (arch_prctl ARCH_REQ_XCOMP_PERM): amx_granted()
// asks once, when a batch first reaches the tiles (so a process that never runs one never asks: with the state
// granted the kernel checks alternate signal stacks against the larger frame); where that fails (older kernels, a
// hypervisor without the state) the vnni kernels run instead.
//
// GCC 12's tile intrinsics tell the compiler nothing about the memory they read or write (the asm operands name none
// or 8 bytes), so compiler_barrier() goes before each load of memory this code wrote and after each tile store.
// GCC 12 warns about the undefined operands of inlined AVX-512 helpers (GCC bug 105593), as in quant_vnni.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/cpu/quant_avx512_parts.h"
#include "ops/cpu/quant_kernels.h"

#define JITGEN_AMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c,amx-tile,amx-int8")))

namespace jitgen::cpu::quant {

namespace {

constexpr int kTileM = 16;     // rows of an A / C tile
constexpr int kPairRows = 32;  // two A / C row blocks share each loaded pair of B tiles
// Below this many rows the vnni kernels run (M = 1: the streaming decode row). `QUANT_BENCH_M=8,16,32
// build/bench/quant_bench 1 1 smollm2-135m int8,int4,int8-ch,int4-g128`, JITGEN_QUANT_PATH=vnni vs amx alternating
// twice on a 2-core Xeon VM (480 MiB L3: the weights come from it), ms: M = 32 int8 24.2-26.0 -> 17.8-18.6, int4
// 20.4-22.0 -> 15.5-15.7, int8-ch 20.6-22.4 -> 12.4-14.7, int4-g128 18.1-19.2 -> 8.1-8.5; M = 16 int8 15.2-17.8 ->
// 12.4-13.7, int4 10.4-12.8 -> 9.6-10.1, int8-ch 12.7-15.6 -> 10.2-10.6, int4-g128 9.3-11.1 -> 5.5-5.6; M = 8 (half
// of each tile padding) int4 5.9-6.3 -> 7.9-8.0 and int8-ch 8.8-10.0 -> 9.5-9.9 lose, int8 and int4-g128 gain 4-23%.
constexpr int64_t kMinRows = 16;

// Quads per A / B tile for groups of G: 16 (64 bytes of k), or 8 for groups of 32; 0 where neither cuts G.
int quads_per_tile(int64_t G) { return G % 64 == 0 ? 16 : G % 32 == 0 ? 8 : 0; }

inline void compiler_barrier() { asm volatile("" ::: "memory"); }

// ldtilecfg's 64-byte operand: palette 1, then bytes per row and rows of each of the 8 tiles.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Tiles: 0 / 7 = A (activations of rows 0-15 / 16-31, 16 rows x 4 qc bytes), 1 / 2 = B (columns 0-15 / 16-31: qc
// quads of 64 bytes), 3 / 4 = C of rows 0-15 (columns 0-15 / 16-31), 5 / 6 = C of rows 16-31.
JITGEN_AMX void configure(int qc) {
  TileConfig c;
  for (int t : {0, 7}) c.colsb[t] = static_cast<uint16_t>(4 * qc), c.rows[t] = kTileM;
  for (int t = 1; t <= 2; ++t) c.colsb[t] = 64, c.rows[t] = static_cast<uint8_t>(qc);
  for (int t = 3; t <= 6; ++t) c.colsb[t] = 64, c.rows[t] = kTileM;
  compiler_barrier();
  _tile_loadconfig(&c);
}

// Quads [0, qc) of an int4 block from quad q0 on, unpacked into the int8 layout (128 bytes a quad).
JITGEN_AMX inline void unpack_int4(const uint8_t* block, int64_t q0, int qc, uint8_t* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (int q = 0; q < qc; ++q) {
    const __m512i v = _mm512_load_si512(block + (q0 + q) * 64);
    _mm512_store_si512(out + q * 128, _mm512_and_si512(v, low4));
    _mm512_store_si512(out + q * 128 + 64, _mm512_and_si512(_mm512_srli_epi16(v, 4), low4));
  }
}

// f[r] += scale * (sums[r] - z * qsum[r][g]) for `rows` rows of one group: the vnni tile's add_group after its
// start_group (an exact int32 sum either way), in the same fp32 operations.
template <int kBits, bool kZp>
JITGEN_AMX inline void add_group(const QuantLinear& w, const uint8_t* block, const QuantActs& a, int64_t m0, int rows,
                                 int64_t g, const int32_t* sums, float* f) {
  const auto* sc = reinterpret_cast<const uint16_t*>(block + w.code_bytes_per_group());
  const __m512 s0 = load_scales(sc, w.spec.scale_f16), s1 = load_scales(sc + 16, w.spec.scale_f16);
  __m512i z0 = _mm512_setzero_si512(), z1 = z0;
  if constexpr (kZp) {
    const uint8_t* zp = block + w.code_bytes_per_group() + 64;
    z0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zp)));
    z1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zp + 16)));
  }
  constexpr int32_t zc = kBits == 8 ? 128 : 8;  // the symmetric formats' one zero point
  for (int r = 0; r < rows; ++r) {
    const int32_t qs = a.qsum[(m0 + r) * a.groups + g];
    __m512i d0 = _mm512_load_si512(sums + r * 32), d1 = _mm512_load_si512(sums + r * 32 + 16);
    if constexpr (kZp) {
      const __m512i qv = _mm512_set1_epi32(qs);
      d0 = _mm512_sub_epi32(d0, _mm512_mullo_epi32(z0, qv));
      d1 = _mm512_sub_epi32(d1, _mm512_mullo_epi32(z1, qv));
    } else {
      const __m512i c = _mm512_set1_epi32(zc * qs);
      d0 = _mm512_sub_epi32(d0, c);
      d1 = _mm512_sub_epi32(d1, c);
    }
    _mm512_store_ps(f + r * 32, _mm512_fmadd_ps(s0, _mm512_cvtepi32_ps(d0), _mm512_load_ps(f + r * 32)));
    _mm512_store_ps(f + r * 32 + 16, _mm512_fmadd_ps(s1, _mm512_cvtepi32_ps(d1), _mm512_load_ps(f + r * 32 + 16)));
  }
}

// Rows [m0, m0 + rows) (rows <= 32) of panel p over every group, into out [rows][32] (times sx). x0: the codes of the
// first tile's 16 rows, Kp apart; x1: the second tile's (rows > 16 only). A tile's rows past `rows` are zero padding:
// computed, never read.
template <int kBits, bool kZp>
JITGEN_AMX void pair_tile(const QuantActs& a, const QuantLinear& w, int qc, int64_t p, int64_t m0, int rows,
                          const int8_t* x0, const int8_t* x1, float* out) {
  alignas(64) float f[kPairRows * 32] = {};
  alignas(64) int32_t sums[kPairRows * 32];
  alignas(64) uint8_t unpacked[16 * 128];
  const int64_t chunks = w.G / 4 / qc, stride = static_cast<int64_t>(a.Kp);
  const bool two = rows > kTileM;
  for (int64_t g = 0; g < w.groups; ++g) {
    const uint8_t* block = w.group_codes(p, g);
    _tile_zero(3);
    _tile_zero(4);
    if (two) {
      _tile_zero(5);
      _tile_zero(6);
    }
    for (int64_t c = 0; c < chunks; ++c) {
      const uint8_t* b = block + c * qc * 128;
      if constexpr (kBits == 4) {
        unpack_int4(block, c * qc, qc, unpacked);
        b = unpacked;
        compiler_barrier();
      }
      _tile_loadd(1, b, 128);
      _tile_loadd(2, b + 64, 128);
      const int64_t k0 = g * w.G + c * 4 * qc;
      _tile_loadd(0, x0 + k0, stride);
      _tile_dpbsud(3, 0, 1);
      _tile_dpbsud(4, 0, 2);
      if (two) {
        _tile_loadd(7, x1 + k0, stride);
        _tile_dpbsud(5, 7, 1);
        _tile_dpbsud(6, 7, 2);
      }
    }
    // The start of the next block's codes (the next group, or the next panel's first), while this group's sums are
    // scaled: a tile load waits for its whole tile. At most 4 KiB (a per-channel block can be 100+ KiB); past the
    // last block the address is never dereferenced (a prefetch does not fault).
    const uint8_t* next = block + w.block_bytes();
    for (size_t off = 0; off < std::min<size_t>(w.code_bytes_per_group(), 4096); off += 64)
      _mm_prefetch(reinterpret_cast<const char*>(next + off), _MM_HINT_T0);
    _tile_stored(3, sums, 128);
    _tile_stored(4, sums + 16, 128);
    if (two) {
      _tile_stored(5, sums + kTileM * 32, 128);
      _tile_stored(6, sums + kTileM * 32 + 16, 128);
    }
    compiler_barrier();
    add_group<kBits, kZp>(w, block, a, m0, rows, g, sums, f);
  }
  for (int r = 0; r < rows; ++r) {
    const __m512 sx = _mm512_set1_ps(a.sx[m0 + r]);
    _mm512_storeu_ps(out + r * 32, _mm512_mul_ps(_mm512_load_ps(f + r * 32), sx));
    _mm512_storeu_ps(out + r * 32 + 16, _mm512_mul_ps(_mm512_load_ps(f + r * 32 + 16), sx));
  }
}

// Per panel: pairs of 16-row tiles over the rows, two tiles sharing each pair of loaded weight tiles. Of the 1-15
// rows past the last whole tile, kPadFrom or more take one more tile, its rows past M zero (a zero-padded copy of
// them); fewer take the vnni batch tiles (bit-identical: every row's result is independent of the rows beside it)
// while the panel's codes are still in the cache. A row costs the vnni tiles ~0.6 ms of a SmolLM2-135M pass, a
// padded tile ~3.8 (all leftover rows on the vnni tiles, quant_bench smollm2-135m int8 M = 16 / 17 / 24 / 31 / 32:
// 13.5 / 13.6 / 18.4 / 22.2 / 17.3 ms, the vnni path 15.9 / 16.8 / 19.6 / 24.2 / 25.5). With this split, 3 rounds
// alternating with the vnni path (ms): M = 20 (4 rows left) int8 14.0-17.4 vs 16.8-18.1, int4 11.7-12.9 vs
// 12.1-14.0; M = 24 (a padded tile) int8 14.7-16.2 vs 19.2-19.3, int4 13.0 vs 14.4-15.2; int4-g128 7.2-7.5 vs 11.0-11.4
// at M = 20.
constexpr int64_t kPadFrom = 6;

template <int kBits, bool kZp>
JITGEN_AMX void run(const QuantActs& a, const QuantLinear& w, int qc, const TileSink& sink, int64_t p0, int64_t p1) {
  const int64_t whole = a.M / kTileM * kTileM, left = a.M - whole;
  const bool pad_tile = left >= kPadFrom;
  thread_local std::vector<int8_t> pad;
  if (pad_tile) {
    pad.assign(static_cast<size_t>(kTileM * a.Kp), 0);
    std::memcpy(pad.data(), a.q.data() + whole * a.Kp, static_cast<size_t>(left * a.Kp));
  }
  const int64_t tiled = pad_tile ? a.M : whole;  // the rows the tiles compute
  auto rows_of = [&](int64_t m) { return m < whole ? a.q.data() + m * a.Kp : pad.data(); };
  configure(qc);
  alignas(64) float out[kPairRows * 32];
  for (int64_t p = p0; p < p1; ++p) {
    for (int64_t m0 = 0; m0 < tiled; m0 += kPairRows) {
      const int rows = static_cast<int>(std::min<int64_t>(kPairRows, tiled - m0));
      pair_tile<kBits, kZp>(a, w, qc, p, m0, rows, rows_of(m0), rows > kTileM ? rows_of(m0 + kTileM) : nullptr, out);
      for (int r = 0; r < rows; r += kTileRows)
        store_tile_avx512(sink, out + r * 32, m0 + r, std::min(kTileRows, rows - r), p);
    }
    if (tiled < a.M) panel_rows_vnni(a, w, sink, p, tiled);
  }
  _tile_release();
}

}  // namespace

bool amx_cpu() {
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;  // CPUID.(7, 0):EDX bit 24 AMX-TILE, bit 25 AMX-INT8
    return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (edx >> 24 & 1) && (edx >> 25 & 1);
  }();
  return has;
}

bool amx_granted() {
  static const bool granted = [] {
    if (!amx_cpu()) return false;
    constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;  // linux/arch/x86/include/uapi/asm/prctl.h
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return granted;
}

bool amx_runs(int64_t M, const QuantLinear& w) { return M >= kMinRows && quads_per_tile(w.G) > 0 && amx_granted(); }

void panels_amx(const QuantActs& a, const QuantLinear& w, const TileSink& sink, int64_t p0, int64_t p1) {
  if (!amx_runs(a.M, w)) return panels_vnni(a, w, sink, p0, p1);
  const int qc = quads_per_tile(w.G);
  if (w.spec.bits == 8) return run<8, false>(a, w, qc, sink, p0, p1);
  if (w.has_zeros()) return run<4, true>(a, w, qc, sink, p0, p1);
  run<4, false>(a, w, qc, sink, p0, p1);
}

}  // namespace jitgen::cpu::quant
