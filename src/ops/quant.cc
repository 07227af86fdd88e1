// Quantization, packing, activation quantization and dispatch of the quantized linear layer (ops/quant.h).
#include "ops/quant.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "core/tensor.h"
#include "ops/cpu/quant_kernels.h"
#include "ops/cpu_kernels.h"
#include "runtime/thread_pool.h"

namespace jitgen::cpu {

namespace {

// The int32 sums of a group stay exact: |q| <= 127, u <= 255, so G * 127 * 255 must stay below 2^31.
constexpr int64_t kMaxGroup = 65536;

uint16_t round_scale(float s, bool f16) { return f16 ? f32_to_f16(s) : f32_to_bf16(s); }
float scale_value(uint16_t bits, bool f16) { return f16 ? f16_to_f32(bits) : bf16_to_f32(bits); }

// The amx, vnni, avxvnni and avx2 kernels exist on x86-64 only (cpu/quant_amx.cc, cpu/quant_vnni.cc,
// cpu/quant_avxvnni.cc, cpu/quant_avx2.cc); other CPUs run the portable panels.
#if defined(__x86_64__)
bool cpu_has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"); }
bool cpu_has_avxvnni() {  // CPUID.(7, 1):EAX bit 4 (clang 14's __builtin_cpu_supports does not know "avxvnni")
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return cpu_has_avx2() && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && (eax >> 4 & 1);
}
bool cpu_has_vnni() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512vnni");
}
// The amx path's epilogue and its small batches are the vnni path's; the tile state is asked for when a batch first
// needs it (quant::amx_granted), not here.
bool cpu_has_amx() { return cpu_has_vnni() && quant::amx_cpu(); }
#else
bool cpu_has_avx2() { return false; }
bool cpu_has_avxvnni() { return false; }
bool cpu_has_vnni() { return false; }
bool cpu_has_amx() { return false; }
#endif

}  // namespace

#if !defined(__x86_64__)
namespace quant {  // cpu/quant_amx.cc is x86-64 only
bool amx_cpu() { return false; }
bool amx_granted() { return false; }
bool amx_runs(int64_t, const QuantLinear&) { return false; }
}  // namespace quant
#endif

namespace {

constexpr QuantPath kAllPaths[] = {QuantPath::kPortable, QuantPath::kAvx2, QuantPath::kAvxVnni, QuantPath::kVnni,
                                    QuantPath::kAmx};

bool cpu_runs(QuantPath p) {
  switch (p) {
    case QuantPath::kAmx: return cpu_has_amx();
    case QuantPath::kVnni: return cpu_has_vnni();
    case QuantPath::kAvxVnni: return cpu_has_avxvnni();
    case QuantPath::kAvx2: return cpu_has_avx2();
    case QuantPath::kPortable: return true;
  }
  return false;
}

// The best path the CPU runs at or below `cap` (a CPU may have AVX-512 VNNI without AVX-VNNI: Zen 4).
QuantPath best_at_or_below(QuantPath cap) {
  int p = static_cast<int>(cap);
  while (p > 0 && !cpu_runs(static_cast<QuantPath>(p))) --p;
  return static_cast<QuantPath>(p);
}

// The cap JITGEN_SIMD (cpu_kernels.h) and JITGEN_QUANT_PATH put on the path: avx512 keeps AMX and VNNI, avx2 caps at the
// 256-bit paths, and the older targets (sse4, ssse3, scalar, portable) take the portable panels.
QuantPath env_cap() {
  QuantPath cap = QuantPath::kAmx;
  const char* e = std::getenv("JITGEN_SIMD");
  const std::string t = e ? e : "";
  if (t == "avx2") cap = QuantPath::kAvxVnni;
  if (t == "sse4" || t == "ssse3" || t == "scalar" || t == "portable") cap = QuantPath::kPortable;
  if (const char* q = std::getenv("JITGEN_QUANT_PATH"); q && *q) {
    bool known = false;
    for (QuantPath p : kAllPaths)
      if (std::string(q) == quant_path_name(p)) {
        cap = std::min(cap, p);
        known = true;
      }
    static std::atomic<bool> warned{false};
    if (!known && !warned.exchange(true))
      std::fprintf(stderr, "jitgen: JITGEN_QUANT_PATH=%s is not one of amx, vnni, avxvnni, avx2, portable; ignored\n", q);
  }
  return cap;
}

QuantPath detect_path() { return best_at_or_below(env_cap()); }

std::atomic<int> g_path{static_cast<int>(detect_path())};

}  // namespace

std::string QuantSpec::name() const {
  std::string s = bits == 8 ? "int8" : "int4";
  if (group == 0) s += "-ch";
  else if (group != 32) s += fmt::format("-g{}", group);
  if (q4_0_scale) s += "-q40";
  if (scale_f16) s += "-f16";
  if (zero_point) s += "-zp";
  return s;
}

QuantSpec parse_quant_spec(const std::string& text, const std::string& what) {
  for (int bits : {8, 4})
    for (int group : {32, 128, 0})
      for (bool f16 : {false, true})
        for (bool zp : {false, true})
          for (bool q40 : {false, true}) {
            const QuantSpec s{bits, group, f16, zp, q40};
            if ((bits == 8 && (zp || q40)) || (bits == 4 && group == 0) || (zp && q40)) continue;
            if (s.name() == text) return s;
          }
  throw_invalid_argument(fmt::format("{}: \"{}\" is not a weight format; expected int8 or int4, then in this "
                                     "order any of -g128 (group size) or -ch (int8: per output channel), -q40 (int4: "
                                     "Q4_0's scale max / 8), -f16 (fp16 scales), -zp (int4: zero points), e.g. "
                                     "int4-g128-f16-zp",
                                     what, text));
}

float QuantMatrix::scale_at(int64_t n, int64_t g) const { return scale_value(scale[n * groups + g], spec.scale_f16); }

float QuantMatrix::dequant(int64_t k, int64_t n) const {
  JITGEN_CHECK(perm.empty());
  const int64_t g = k / G;
  return scale_at(n, g) * static_cast<float>(static_cast<int>(u[n * k_padded() + k]) - zero[n * groups + g]);
}

std::vector<float> QuantMatrix::dequantize() const {
  std::vector<float> out(static_cast<size_t>(K * N), 0.0f);
  dequantize_into(out.data());
  return out;
}

void QuantMatrix::dequantize_into(float* out) const {
  const int64_t Kp = k_padded();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < Kp; ++s) {
      const int64_t k = perm.empty() ? s : perm[s];
      if (k < 0 || k >= K) continue;  // padding
      const int64_t g = s / G;
      out[k * N + n] = scale_at(n, g) * static_cast<float>(static_cast<int>(u[n * Kp + s]) - zero[n * groups + g]);
    }
}

QuantMatrix quantize(const float* w, bool transposed, int64_t K, int64_t N, const QuantSpec& spec) {
  if (!(spec.bits == 8 || spec.bits == 4) || !(spec.group == 32 || spec.group == 128 || spec.group == 0) ||
      (spec.bits == 4 && spec.group == 0) || (spec.bits == 8 && spec.zero_point) ||
      (spec.q4_0_scale && (spec.bits != 4 || spec.zero_point)))
    throw_invalid_argument(fmt::format("weight format {}: not a supported quantization", spec.name()));
  JITGEN_CHECK(K > 0 && N > 0);
  QuantMatrix m;
  m.spec = spec;
  m.K = K;
  m.N = N;
  m.G = spec.group > 0 ? spec.group : (K + 3) / 4 * 4;
  if (m.G > kMaxGroup)
    throw_limit(fmt::format("weight format {}: K = {} is too long for one group (at most {})", spec.name(), K, kMaxGroup));
  m.groups = (K + m.G - 1) / m.G;
  const int64_t Kp = m.k_padded();
  m.u.assign(static_cast<size_t>(N * Kp), 0);
  m.scale.assign(static_cast<size_t>(N * m.groups), 0);
  m.zero.assign(static_cast<size_t>(N * m.groups), 0);
  const int qmax = spec.bits == 8 ? 127 : 7, umax = (1 << spec.bits) - 1;
  auto at = [&](int64_t k, int64_t n) { return transposed ? w[n * K + k] : w[k * N + n]; };
  // Checked before the pool runs: workers must not throw.
  for (int64_t i = 0; i < K * N; ++i)
    if (!std::isfinite(w[i])) throw_invalid_argument("cannot quantize a weight that contains NaN or Inf values");
  runtime::parallel_for(N, 16, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t g = 0; g < m.groups; ++g) {
        const int64_t k0 = g * m.G, k1 = std::min(K, k0 + m.G);
        float lo = 0.0f, hi = 0.0f, amax = 0.0f, m_signed = 0.0f;  // m_signed: the first weight of largest |W|
        for (int64_t k = k0; k < k1; ++k) {
          const float v = at(k, n);
          lo = std::min(lo, v);
          hi = std::max(hi, v);
          if (std::fabs(v) > amax) m_signed = v;
          amax = std::max(amax, std::fabs(v));
        }
        int z;
        float s;
        if (spec.zero_point) {  // the range [min, max] (always containing 0) onto 0 .. 15
          s = scale_value(round_scale((hi - lo) / static_cast<float>(umax), spec.scale_f16), spec.scale_f16);
          z = s > 0 ? static_cast<int>(std::clamp(std::nearbyint(-lo / s), 0.0f, static_cast<float>(umax))) : 0;
        } else if (spec.q4_0_scale) {  // m_signed onto q = -8: the scale takes the opposite sign of m
          s = scale_value(round_scale(m_signed / -8.0f, spec.scale_f16), spec.scale_f16);
          z = 8;
        } else {
          s = scale_value(round_scale(amax / static_cast<float>(qmax), spec.scale_f16), spec.scale_f16);
          z = spec.bits == 8 ? 128 : 8;
        }
        m.scale[n * m.groups + g] = round_scale(s, spec.scale_f16);
        m.zero[n * m.groups + g] = static_cast<uint8_t>(z);
        uint8_t* row = m.u.data() + n * Kp;
        for (int64_t k = k0; k < k0 + m.G; ++k) {
          int code = z;  // padded k: weight 0
          if (k < K && s != 0) {
            const float q = std::nearbyint(at(k, n) / s);
            code = spec.zero_point ? static_cast<int>(std::clamp(q + z, 0.0f, static_cast<float>(umax)))
                                   : static_cast<int>(std::clamp(q, -static_cast<float>(qmax) - (spec.bits == 4),
                                                                 static_cast<float>(qmax))) + z;
          }
          row[k] = static_cast<uint8_t>(code);
        }
      }
  });
  return m;
}

size_t QuantLinear::nbytes() const {
  const size_t cells = static_cast<size_t>(panels * groups) * 32;
  return static_cast<size_t>(panels * groups) * code_bytes_per_group() + cells * 2 + (has_zeros() ? cells : 0);
}

QuantLinear quant_panels(const QuantMatrix& like, int64_t N, StreamArena* arena) {
  QuantLinear w;
  w.spec = like.spec;
  w.K = like.K;
  w.N = N;
  w.G = like.G;
  w.groups = like.groups;
  w.panels = (N + 31) / 32;
  if (!like.perm.empty()) w.perm = std::make_shared<const std::vector<int32_t>>(like.perm);
  std::shared_ptr<void> buf = arena ? arena->take(w.stored_bytes()) : zeroed_buffer(w.stored_bytes());  // zeroed
  JITGEN_CHECK(buf != nullptr);
  w.data = std::shared_ptr<uint8_t>(buf, static_cast<uint8_t*>(buf.get()));
  return w;
}

void pack_quant_rows(const QuantMatrix& part, int64_t n0, QuantLinear& w) {
  JITGEN_CHECK(n0 % 32 == 0 && n0 + part.N <= w.N && (part.N % 32 == 0 || n0 + part.N == w.N));
  JITGEN_CHECK(part.K == w.K && part.G == w.G && part.groups == w.groups && part.spec.bits == w.spec.bits);
  const int64_t Kp = part.k_padded(), quads = part.G / 4;
  const uint8_t pad_code = part.spec.bits == 8 ? 128 : 8;  // padded columns: scale 0, code = z
  runtime::parallel_for((part.N + 31) / 32, 1, [&](int64_t q0, int64_t q1) {
    for (int64_t p = n0 / 32 + q0; p < n0 / 32 + q1; ++p)
      for (int64_t g = 0; g < w.groups; ++g) {
        // The block's layout comes from QuantLinear's accessors, the same ones the kernels read through; this is
        // the one writer of `data`, hence the const_casts.
        auto* block = const_cast<uint8_t*>(w.group_codes(p, g));
        auto* scales = const_cast<uint16_t*>(w.group_scales(p, g));
        uint8_t* zeros = w.has_zeros() ? const_cast<uint8_t*>(w.group_zeros(p, g)) : nullptr;
        for (int j = 0; j < 32; ++j) {
          const int64_t n = p * 32 + j - n0;  // the part's row
          const bool real = n < part.N;
          if (real) {
            scales[j] = part.scale[n * part.groups + g];
            if (zeros) zeros[j] = part.zero[n * part.groups + g];
          }
          const int h = j / 16, i = j % 16;
          for (int64_t q = 0; q < quads; ++q)
            for (int r = 0; r < 4; ++r) {
              const uint8_t code = real ? part.u[n * Kp + g * part.G + 4 * q + r] : pad_code;
              const int64_t byte = 4 * i + r;
              if (part.spec.bits == 8)
                block[(q * 2 + h) * 64 + byte] = code;
              else
                block[q * 64 + byte] |= static_cast<uint8_t>(code << (4 * h));
            }
        }
      }
  });
}

QuantLinear pack_quant(const QuantMatrix& m, StreamArena* arena) {
  QuantLinear w = quant_panels(m, m.N, arena);
  pack_quant_rows(m, 0, w);
  return w;
}

void quantize_activations(const float* x, int64_t M, int64_t K, int64_t G, int64_t groups, QuantActs& a) {
  a.M = M;
  a.G = G;
  a.groups = groups;
  a.Kp = G * groups;
  a.q.assign(static_cast<size_t>(M * a.Kp), 0);
  a.sx.assign(static_cast<size_t>(M), 0.0f);
  a.qsum.assign(static_cast<size_t>(M * groups), 0);
  for (int64_t m = 0; m < M; ++m) {
    const float* row = x + m * K;
    float amax = 0.0f;
    bool finite = true;
    for (int64_t k = 0; k < K; ++k) {
      finite = finite && std::isfinite(row[k]);
      amax = std::max(amax, std::fabs(row[k]));
    }
    if (!finite) {
      a.sx[m] = std::nanf("");
      continue;
    }
    const float sx = amax / 127.0f;
    a.sx[m] = sx;
    if (sx == 0.0f) continue;
    const float inv = 1.0f / sx;
    int8_t* q = a.q.data() + m * a.Kp;
    for (int64_t k = 0; k < K; ++k) {
      q[k] = static_cast<int8_t>(std::clamp(std::nearbyint(row[k] * inv), -127.0f, 127.0f));
      a.qsum[m * groups + k / G] += q[k];
    }
  }
}

void quant::TileSink::store(const float* tile, int64_t m0, int mr, int64_t p) const {
  const int64_t n0 = p * 32, nc = std::min<int64_t>(32, N - n0);
  float v[kTileRows * 32];  // mr <= kTileRows rows, 32 apart
  for (int r = 0; r < mr; ++r)
    for (int64_t j = 0; j < nc; ++j) v[r * 32 + j] = tile[r * 32 + j] + (bias ? bias[n0 + j] : 0.0f);
  if (epilogue && epilogue->has_act) {  // nested: runs on this thread
    if (nc == 32) {
      // A whole panel's rows in one call: the activation is elementwise and 32 is a whole number of vectors on every
      // target, so a value comes out the same wherever it sits. One call per row was most of the activation's cost
      // at batch 32 (perf, SmolLM2 int4 on avxvnni: ActivationRange 3.3% of the samples).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 cannot see that the loop above wrote all mr * 32
      cpu::activation(v, v, mr * 32, epilogue->act);
#pragma GCC diagnostic pop
    } else {
      for (int r = 0; r < mr; ++r) cpu::activation(v + r * 32, v + r * 32, nc, epilogue->act);
    }
  }
  for (int r = 0; r < mr; ++r) {
    float* out = y + (m0 + r) * N + n0;
    const float* res = epilogue && epilogue->residual ? epilogue->residual + (m0 + r) * N + n0 : nullptr;
    for (int64_t j = 0; j < nc; ++j) out[j] = v[r * 32 + j] + (res ? res[j] : 0.0f);  // residual may alias out: read first
  }
}

// Scalar panels: the same integer math as the SIMD tiles, read through the packed layout.
void quant::panels_portable(const QuantActs& a, const QuantLinear& w, const TileSink& out, int64_t p0, int64_t p1) {
  const int64_t quads = w.G / 4;
  float tile[kTileRows * 32];
  for (int64_t p = p0; p < p1; ++p)
    for (int64_t m0 = 0; m0 < a.M; m0 += kTileRows) {
      const int mr = static_cast<int>(std::min<int64_t>(kTileRows, a.M - m0));
      std::fill(tile, tile + kTileRows * 32, 0.0f);
      for (int64_t g = 0; g < w.groups; ++g) {
        const uint8_t* block = w.group_codes(p, g);
        const uint16_t* sc = w.group_scales(p, g);
        for (int j = 0; j < 32; ++j) {
          const int h = j / 16, i = j % 16;
          const float s = scale_value(sc[j], w.spec.scale_f16);
          const int32_t z = zero_of(w, p, g, j);
          for (int r = 0; r < mr; ++r) {
            const int8_t* xq = a.q.data() + (m0 + r) * a.Kp + g * w.G;
            int32_t acc = 0;
            for (int64_t q = 0; q < quads; ++q)
              for (int b = 0; b < 4; ++b) {
                const int byte = 4 * i + b;
                const int u = w.spec.bits == 8 ? block[(q * 2 + h) * 64 + byte] : (block[q * 64 + byte] >> (4 * h)) & 15;
                acc += u * xq[4 * q + b];
              }
            acc -= z * a.qsum[(m0 + r) * a.groups + g];
            tile[r * 32 + j] += s * static_cast<float>(acc);
          }
        }
      }
      for (int r = 0; r < mr; ++r)
        for (int j = 0; j < 32; ++j) tile[r * 32 + j] *= a.sx[m0 + r];
      out.store(tile, m0, mr, p);
    }
}

QuantPath quant_path() { return static_cast<QuantPath>(g_path.load(std::memory_order_relaxed)); }
QuantPath quant_path_supported() { return detect_path(); }
std::vector<QuantPath> quant_paths_runnable() {
  std::vector<QuantPath> out;
  const QuantPath cap = env_cap();
  for (QuantPath p : kAllPaths)
    if (p <= cap && cpu_runs(p)) out.push_back(p);
  return out;
}
void set_quant_path(QuantPath p) { g_path.store(static_cast<int>(best_at_or_below(std::min(p, detect_path())))); }
const char* quant_path_name(QuantPath p) {
  switch (p) {
    case QuantPath::kAmx: return "amx";
    case QuantPath::kVnni: return "vnni";
    case QuantPath::kAvxVnni: return "avxvnni";
    case QuantPath::kAvx2: return "avx2";
    case QuantPath::kPortable: break;
  }
  return "portable";
}

// quantize_activations on the pool, rows in parallel, AVX-512 rows where the vnni path runs and AVX2 rows where the
// avxvnni or avx2 one does (both bit-equal to the scalar rows; tests compare the kernels, which use this, against the oracle,
// which uses the scalar code). It was 19% of a batch-32 int8 decode profile when it ran scalar on one thread;
// the scalar rows call libm's nearbyintf per activation in a baseline x86-64 build.
void quantize_activations_fast(const float* x, int64_t M, int64_t K, int64_t G, int64_t groups, QuantActs& a) {
#if defined(__x86_64__)
  const QuantPath path = quant_path();
  const bool vnni = path >= QuantPath::kVnni && (G % 16 == 0 || groups == 1);
  const bool avx2 = path >= QuantPath::kAvx2 && (G % 8 == 0 || groups == 1);
  if (!vnni && !avx2) return quantize_activations(x, M, K, G, groups, a);
  a.M = M;
  a.G = G;
  a.groups = groups;
  a.Kp = G * groups;
  a.q.assign(static_cast<size_t>(M * a.Kp), 0);
  a.sx.assign(static_cast<size_t>(M), 0.0f);
  a.qsum.assign(static_cast<size_t>(M * groups), 0);
  runtime::parallel_for(M, 4, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m)
      (vnni ? quant::quantize_row_avx512 : quant::quantize_row_avx2)(x + m * K, K, G, a.q.data() + m * a.Kp,
                                                                      a.qsum.data() + m * groups, a.sx.data() + m);
  });
#else
  quantize_activations(x, M, K, G, groups, a);
#endif
}

namespace {
// x [M, K] -> [M, Kp] in slot order (perm[s], 0 for padding): what permuted matrices multiply (header comment).
const float* gather_slots(const float* x, int64_t M, int64_t K, const std::vector<int32_t>& perm, std::vector<float>& buf) {
  const int64_t Kp = static_cast<int64_t>(perm.size());
  buf.resize(static_cast<size_t>(M * Kp));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t s = 0; s < Kp; ++s) buf[m * Kp + s] = perm[s] >= 0 && perm[s] < K ? x[m * K + perm[s]] : 0.0f;
  return buf.data();
}

// q / k / v (and gate / up) quantize the same input one after another. The thread remembers the last input it
// quantized (its bytes, shape, grouping and path) and, when the next call brings the same, keeps the activations
// it has: compared byte for byte, never assumed from the pointer, so a rewritten buffer quantizes again and the
// result is bit-identical either way. Small inputs only (decode and short prefills): there the compare and the
// copy cost a fraction of the quantization one hit saves; larger ones always quantize.
bool last_acts_match(const float* x, int64_t M, int64_t K, int64_t G, int64_t groups, QuantPath path) {
  struct Last {
    std::vector<float> x;
    int64_t M = -1, K = 0, G = 0, groups = 0;
    QuantPath path = QuantPath::kPortable;
  };
  constexpr int64_t kMaxFloats = int64_t{1} << 16;
  thread_local Last last;
  const size_t n = static_cast<size_t>(M * K);
  if (last.M == M && last.K == K && last.G == G && last.groups == groups && last.path == path &&
      (n == 0 || std::memcmp(last.x.data(), x, n * sizeof(float)) == 0))
    return true;
  if (M * K > kMaxFloats) {
    last.M = -1;
    return false;
  }
  last.x.assign(x, x + n);
  last.M = M;
  last.K = K;
  last.G = G;
  last.groups = groups;
  last.path = path;
  return false;
}
}  // namespace

void quant_linear(const float* x, int64_t M, const QuantLinear& w, const float* bias, const LinearEpilogue& e, float* y) {
  thread_local QuantActs acts;  // reused across calls: no allocation once warm
  thread_local std::vector<float> gathered;
  const QuantPath path = quant_path();
  const float* src = w.perm ? gather_slots(x, M, w.K, *w.perm, gathered) : x;
  const int64_t K = w.perm ? w.k_padded() : w.K;
  if (!last_acts_match(src, M, K, w.G, w.groups, path)) quantize_activations_fast(src, M, K, w.G, w.groups, acts);
  const QuantActs& a = acts;  // a thread_local: its address, not its name, goes to the workers
  const quant::TileSink sink{bias, &e, y, w.N};
  runtime::parallel_for(w.panels, 1, [&](int64_t p0, int64_t p1) {
    switch (path) {
#if defined(__x86_64__)
      case QuantPath::kAmx: quant::panels_amx(a, w, sink, p0, p1); break;
      case QuantPath::kVnni: quant::panels_vnni(a, w, sink, p0, p1); break;
      case QuantPath::kAvxVnni: quant::panels_avxvnni(a, w, sink, p0, p1); break;
      case QuantPath::kAvx2: quant::panels_avx2(a, w, sink, p0, p1); break;
#else
      case QuantPath::kAmx:
      case QuantPath::kVnni:
      case QuantPath::kAvxVnni:
      case QuantPath::kAvx2:  // never selected: cpu_has_* are false here
#endif
      case QuantPath::kPortable: quant::panels_portable(a, w, sink, p0, p1); break;
    }
  });
}

}  // namespace jitgen::cpu

namespace jitgen::ref {

void quant_linear(const float* x, int64_t M, const cpu::QuantMatrix& w, const float* bias, float* y) {
  cpu::QuantActs a;
  std::vector<float> gathered;
  if (w.perm.empty())
    cpu::quantize_activations(x, M, w.K, w.G, w.groups, a);
  else
    cpu::quantize_activations(cpu::gather_slots(x, M, w.K, w.perm, gathered), M, w.k_padded(), w.G, w.groups, a);
  const int64_t Kp = w.k_padded();
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < w.N; ++n) {
      float acc = 0.0f;
      for (int64_t g = 0; g < w.groups; ++g) {
        int32_t dot = 0;  // sum q * (u - z): exact
        for (int64_t k = g * w.G; k < (g + 1) * w.G; ++k)
          dot += static_cast<int32_t>(a.q[m * Kp + k]) * (static_cast<int32_t>(w.u[n * Kp + k]) - w.zero[n * w.groups + g]);
        acc += w.scale_at(n, g) * static_cast<float>(dot);
      }
      y[m * w.N + n] = acc * a.sx[m] + (bias ? bias[n] : 0.0f);
    }
}

}  // namespace jitgen::ref
