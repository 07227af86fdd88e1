#include "ops/cpu_kernels.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "ops/cpu/avx512.h"
#include "ops/cpu/simd.h"
#include "ops/prepared_weights.h"
#include "ops/quant.h"
#include "ops/reference.h"
#include "runtime/thread_pool.h"

namespace jitgen::cpu {

namespace {

// JITGEN_SIMD=<target> at start (cpu_kernels.h); an unknown or unrunnable name warns and keeps the best.
bool initial_simd() {
  const char* e = std::getenv("JITGEN_SIMD");
  if (e && *e && !simd::select_target(e)) {
    std::string names;
    for (const std::string& t : simd::runnable_targets()) names += (names.empty() ? "" : ", ") + t;
    std::fprintf(stderr, "jitgen: JITGEN_SIMD=%s is not a SIMD target this CPU runs (runnable: %s, portable); using %s\n",
                 e, names.c_str(), simd::target_name());
  }
  return true;
}

// On avx512 and avx2 prepared weights go through the panels at every M: they beat single-threaded OpenBLAS column
// slices for prefill too (avx512, 128-token prompts: +24% at batch 32, +80% at batch 1, generate_bench; avx2:
// kernels_bench c_fc M=32 panels ~2x BLAS). Narrower targets' panels take decode-sized M; past it, BLAS.
constexpr int64_t kPortablePanelMaxM = 64;

int64_t initial_panel_max_m() {
  const char* e = std::getenv("JITGEN_PANEL_MAX_M");
  return e ? std::max<int64_t>(0, std::atoll(e)) : std::numeric_limits<int64_t>::max();
}

const bool g_simd_init = initial_simd();
std::atomic<int64_t> g_panel_max_m{initial_panel_max_m()};

// The AVX-512 intrinsics kernels (cpu/avx512.h) are built on x86-64 only; elsewhere every call takes Highway's.
#if defined(__x86_64__)
#define JITGEN_AVX512_KERNELS 1
bool use_avx512() { return simd::target_is_avx512(); }
#else
#define JITGEN_AVX512_KERNELS 0
constexpr bool use_avx512() { return false; }
#endif

// Rows of x processed per pass over the panels when M is large: keeps the x block in L2 next to a panel.
constexpr int64_t kRowBlock = 96;

// The row stride (in 4-byte elements) of an activation operand the avx512 tiles read: n elements rounded up to an
// odd number of 64-byte lines. A tile broadcasts from up to 12 rows at once; rows a power-of-two multiple of 4 KiB
// apart (K = 2048: fp32 rows 8 KiB, bf16 pairs 4 KiB -- every TinyLlama / Llama linear but the down projection)
// all fall in one set of the 8-way L1 and evict each other every k. An odd line count spreads them over the sets.
// Zen 4, TinyLlama up [2048 -> 5632] at M = 32, bf16: 129-154 GFLOP/s dense against 183-191 for the down
// projection, whose K of 5632 does not alias (bench/results/row-stride-zen4).
int64_t spread_stride(int64_t n) {
  const int64_t lines = (n * 4 + 63) / 64;
  return (lines | 1) * 16;
}

void run_panels(const float* x, int64_t M, const PackedLinear& w, const PanelEpilogue& e, float* y) {
  // bf16 panels take the rows rounded to bf16 pairs: made once per row block, read by every panel range.
  thread_local std::vector<uint32_t> pairs;
  thread_local std::vector<float> spread;  // avx512 fp32: x's rows at spread_stride (only for tiles of 2+ rows)
  const bool bf16 = w.storage == WeightStorage::kBF16, avx512 = use_avx512();
  const int64_t words = w.k_stored() / 2;
  const int64_t pair_stride = avx512 ? spread_stride(words) : words, x_spread = spread_stride(w.K);
  for (int64_t m0 = 0; m0 < M; m0 += kRowBlock) {
    const int64_t mb = std::min(kRowBlock, M - m0);
    PanelEpilogue em = e;
    if (em.residual) em.residual += m0 * w.N;
    if (bf16) {
      if (static_cast<int64_t>(pairs.size()) < mb * pair_stride) pairs.resize(mb * pair_stride);
#if JITGEN_AVX512_KERNELS
      if (avx512)
        avx512::bf16_pairs(x + m0 * w.K, mb, w.K, w.k_stored(), pairs.data(), pair_stride);
      else
#endif
        simd::bf16_pairs(x + m0 * w.K, mb, w.K, w.k_stored(), pairs.data());
    }
    const uint32_t* xp = bf16 ? pairs.data() : nullptr;  // a thread_local: its address, not its name, goes to workers
    if (!avx512) {
      simd::gemm_panels(x + m0 * w.K, xp, mb, w, em, y + m0 * w.N);
      continue;
    }
#if JITGEN_AVX512_KERNELS
    const float* xm = x + m0 * w.K;
    int64_t x_stride = w.K;
    if (!bf16 && mb > 1 && x_spread != w.K) {  // a copy of mb rows: small beside the GEMM's mb x K x N
      x_stride = x_spread;
      if (static_cast<int64_t>(spread.size()) < mb * x_stride) spread.resize(mb * x_stride);
      for (int64_t m = 0; m < mb; ++m) std::memcpy(spread.data() + m * x_stride, xm + m * w.K, w.K * sizeof(float));
      xm = spread.data();
    }
    runtime::parallel_for(w.panels, 1, [&](int64_t p0, int64_t p1) {
      avx512::gemm_panels(xm, x_stride, xp, pair_stride, mb, w, em, y + m0 * w.N, p0, p1);
    });
#endif
  }
}

// The activation the selected target's panel epilogue applies, so that fused and separate activations agree
// bit for bit (eager and compiled steps give the same scores).
void activation_any(const float* x, float* out, int64_t n, Activation kind) {
#if JITGEN_AVX512_KERNELS
  if (use_avx512()) return avx512::activation(x, out, n, kind);
#endif
  simd::activation(x, out, n, kind);
}

// Columns [n0, n1) of out [M, N]: activation, then residual.
void epilogue_columns(float* out, int64_t M, int64_t N, int64_t n0, int64_t n1, const LinearEpilogue& e) {
  for (int64_t m = 0; m < M; ++m) {
    float* row = out + m * N;
    if (e.has_act) activation_any(row + n0, row + n0, n1 - n0, e.act);
    if (e.residual)
      for (int64_t n = n0; n < n1; ++n) row[n] += e.residual[m * N + n];
  }
}

// BLAS (single-threaded OpenBLAS) on column slices of the output, one slice per pool thread. `released`: fp32 panels
// whose source is gone (prepared_weights.h); each slice reads its columns unpacked from them instead of `w`.
void blas_columns(const float* x, const float* w, bool transposed, const float* bias, int64_t M, int64_t K, int64_t N,
                  float* out, const LinearEpilogue& e, const PackedLinear* released = nullptr) {
  runtime::parallel_for(N, 64, [&](int64_t n0, int64_t n1) {
    const int nb = static_cast<int>(n1 - n0);
    thread_local std::vector<float> unpacked;
    const float* wb = transposed ? w + n0 * K : w + n0;  // the slice's first weight
    int ldb = static_cast<int>(transposed ? K : N);
    if (released) {
      unpacked.resize(static_cast<size_t>(K) * nb);
      unpack_columns(*released, transposed, n0, n1, unpacked.data());
      wb = unpacked.data();
      ldb = transposed ? static_cast<int>(K) : nb;
    }
    if (bias)
      for (int64_t m = 0; m < M; ++m) std::memcpy(out + m * N + n0, bias + n0, nb * sizeof(float));
    if (transposed)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), nb, static_cast<int>(K), 1.0f, x,
                  static_cast<int>(K), wb, ldb, 0.0f, out + n0, static_cast<int>(N));
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(M), nb, static_cast<int>(K), 1.0f, x,
                  static_cast<int>(K), wb, ldb, bias ? 1.0f : 0.0f, out + n0, static_cast<int>(N));
    if (e.has_act || e.residual) epilogue_columns(out, M, N, n0, n1, e);
  });
}

void linear_any(const float* x, const float* w, bool transposed, const float* bias, int64_t M, int64_t K, int64_t N,
                float* out, const LinearEpilogue& e) {
  const PackedLinear* pw = find_packed(w, K, N);
  if (pw && pw->quant) return quant_linear(x, M, *pw->quant, bias, e, out);  // ops/quant.h, every M
  // bf16 storage always takes the panels, so prefill and decode see the same weights.
  if (pw && (M <= fp32_panel_rows() || pw->storage == WeightStorage::kBF16)) {
    PanelEpilogue pe{bias, e.has_act, e.act, e.residual};
    run_panels(x, M, *pw, pe, out);
    return;
  }
  // Only fp32 panels get here (bf16 and quantized ones took their kernels above).
  blas_columns(x, w, transposed, bias, M, K, N, out, e, pw && pw->source_released ? pw : nullptr);
}

}  // namespace

#if !JITGEN_AVX512_KERNELS
// No AVX512_BF16 on this architecture: the dot product is never allowed, as on an x86 CPU without it (avx512.h).
bool avx512::bf16_dot() { return false; }
void avx512::set_bf16_dot(bool) {}
#endif

const char* simd_name() { return simd::target_name(); }
std::vector<std::string> simd_targets() { return simd::runnable_targets(); }
bool set_simd(const std::string& name) { return simd::select_target(name); }
int64_t panel_max_m() { return g_panel_max_m.load(std::memory_order_relaxed); }
void set_panel_max_m(int64_t m) { g_panel_max_m.store(m); }
int64_t fp32_panel_rows() {
  return simd::target_is_avx2_or_better() ? panel_max_m() : std::min(panel_max_m(), kPortablePanelMaxM);
}

namespace {

// A tied embedding table [V, C] released with its lm_head (models/weight_layout.h pack_weights): `table` is then an
// address reservation that holds nothing, and row v is column v of the lm_head's panels ([K = C, N = V]), which hold
// every value exactly (PreparedWeights::holds_exactly). Null for a table that holds its own data.
const PackedLinear* released_table(const float* table, int64_t V, int64_t C) {
  const PackedLinear* p = find_packed(table, C, V);
  return p && p->source_released && !p->quant ? p : nullptr;
}

// out[r, :] = row ids[r] of the released table's panels.
void gather_rows(const PackedLinear& p, int64_t V, int64_t C, const int32_t* ids, int64_t R, float* out) {
  for (int64_t r = 0; r < R; ++r) {
    JITGEN_CHECK(ids[r] >= 0 && ids[r] < V);
    unpack_columns(p, /*transposed=*/true, ids[r], ids[r] + 1, out + r * C);
  }
}

}  // namespace

void embedding(const float* table, int64_t vocab, int64_t C, const int32_t* ids, int64_t R, float* out) {
  if (const PackedLinear* p = released_table(table, vocab, C)) return gather_rows(*p, vocab, C, ids, R, out);
  ref::embedding(table, vocab, C, ids, R, out);
}

void embedding_sum(const float* table_a, int64_t rows_a, const int32_t* ids_a, const float* table_b, int64_t rows_b,
                   const int32_t* ids_b, int64_t C, int64_t R, float* out) {
  if (const PackedLinear* p = released_table(table_a, rows_a, C)) {  // GPT-2's tied wte; wpe is never packed
    gather_rows(*p, rows_a, C, ids_a, R, out);
    for (int64_t r = 0; r < R; ++r) {
      JITGEN_CHECK(ids_b[r] >= 0 && ids_b[r] < rows_b);
      const float* b = table_b + static_cast<int64_t>(ids_b[r]) * C;
      float* o = out + r * C;
      for (int64_t c = 0; c < C; ++c) o[c] = o[c] + b[c];  // the reference's a + b, a read from the panels
    }
    return;
  }
  ref::embedding_sum(table_a, rows_a, ids_a, table_b, rows_b, ids_b, C, R, out);
}

void add(const float* a, const float* b, float* out, int64_t n) { simd::add(a, b, out, n); }

float row_max(const float* x, int64_t n) { return simd::row_max(x, n); }
int64_t row_argmax(const float* x, int64_t n) { return simd::row_argmax(x, n); }
double exp_shifted(const float* x, int64_t n, float m, float* out) { return simd::exp_shifted(x, n, m, out); }

void layer_norm(const float* x, const float* gamma, const float* beta, float eps, int64_t R, int64_t C,
                float* out) {
  simd::layer_norm(x, gamma, beta, eps, R, C, out);
}

void linear(const float* x, const float* w, const float* bias, int64_t M, int64_t K, int64_t N, float* out,
            const LinearEpilogue& epilogue) {
  linear_any(x, w, false, bias, M, K, N, out, epilogue);
}

void linear_transposed(const float* x, const float* w, int64_t M, int64_t K, int64_t N, float* out) {
  linear_any(x, w, true, nullptr, M, K, N, out, {});
}

void activation(const float* x, float* out, int64_t n, Activation kind) {
#if JITGEN_AVX512_KERNELS
  if (use_avx512())
    return runtime::parallel_for(
        n, 1 << 14, [&](int64_t lo, int64_t hi) { avx512::activation(x + lo, out + lo, hi - lo, kind); });
#endif
  simd::activation(x, out, n, kind);
}

void gather_rows(char* data, const Shape& shape, size_t item_bytes, int64_t filled, const int32_t* src, char* scratch) {
  JITGEN_CHECK(shape.size() == 4 || shape.size() == 2);
  const int64_t B = shape[0], chunks = shape.size() == 4 ? shape[1] : 1, S = shape.size() == 4 ? shape[2] : shape[1];
  const int64_t inner = shape.size() == 4 ? shape[3] : 1;
  JITGEN_CHECK(filled >= 0 && filled <= S);
  const size_t chunk = static_cast<size_t>(S * inner) * item_bytes, part = static_cast<size_t>(filled * inner) * item_bytes;
  const size_t row = chunk * chunks;
  for (int64_t r = 0; r < B; ++r) JITGEN_CHECK(src[r] >= 0 && src[r] < B);
  // The filled part of every source row to scratch first: a row may feed several beams and be overwritten.
  runtime::parallel_for(B * chunks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      std::memcpy(scratch + i * part, data + src[i / chunks] * row + (i % chunks) * chunk, part);
  });
  runtime::parallel_for(B * chunks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) std::memcpy(data + (i / chunks) * row + (i % chunks) * chunk, scratch + i * part, part);
  });
}

void attention(const float* qkv, float* k_cache, float* v_cache, const int32_t* cache_pos, const int32_t* key_mask,
               const AttentionShape& s, float scale, float* out) {
  for (int64_t b = 0; b < s.B; ++b) JITGEN_CHECK(cache_pos[b] >= 0 && cache_pos[b] + s.T <= s.S);
  const int64_t C = s.H * s.D;
  attention_qkv({qkv, qkv + C, qkv + 2 * C, 3 * C, 3 * C, 3 * C}, k_cache, v_cache, cache_pos, key_mask, s, scale, out);
}

void attention_qkv(const AttentionInputs& in, float* k_cache, float* v_cache, const int32_t* cache_pos,
                   const int32_t* key_mask, const AttentionShape& s, float scale, float* out) {
  const int64_t KV = s.kv();
  JITGEN_CHECK(KV >= 1 && s.H % KV == 0);
  for (int64_t b = 0; b < s.B; ++b) JITGEN_CHECK(cache_pos[b] >= 0 && cache_pos[b] + s.T <= s.S);
  simd::attention(in, k_cache, v_cache, cache_pos, key_mask, s, scale, out);  // cpu/simd_attention.cc, every target
}

}  // namespace jitgen::cpu
