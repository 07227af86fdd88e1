// Releasing the fp32 data of packed linear weights (ops/prepared_weights.h PreparedWeights::release_source,
// Model load): the data is freed, the stand-in address finds the same panels, nothing reads the old address, and
// every path (panels, the BLAS fallback past the panel limit, bf16, quantized) computes bit for bit what it
// computed with the source kept; loaded models of every family and format give the same logits and fingerprint.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/memory.h"
#include "io/safetensors.h"
#include "jitgen/model.h"
#include "models/model_impl.h"
#include "models/weight_layout.h"
#include "ops/cpu_kernels.h"
#include "ops/prepared_weights.h"
#include "test_support.h"

namespace jitgen {
namespace {

using test::randn;

// Restores the kernel settings a test changes.
struct KernelScope {
  ~KernelScope() {
    cpu::set_simd(simd);
    cpu::set_panel_max_m(panel_max_m);
  }
  const std::string simd = cpu::simd_name();
  const int64_t panel_max_m = cpu::panel_max_m();
};

// A weight tensor whose storage reports when it is freed.
Tensor tracked_tensor(const std::vector<float>& v, Shape s, std::shared_ptr<bool> alive) {
  void* p = std::aligned_alloc(64, (v.size() * sizeof(float) + 63) / 64 * 64);
  std::memcpy(p, v.data(), v.size() * sizeof(float));
  std::shared_ptr<void> owner(p, [alive](void* q) {
    std::free(q);
    *alive = false;
  });
  return Tensor::view(p, std::move(s), DType::kF32, std::move(owner));
}

std::vector<float> run_linear(const float* w, bool transposed, int64_t M, int64_t K, int64_t N) {
  const auto x = randn(M * K, 21), bias = randn(N, 22), res = randn(M * N, 23);
  std::vector<float> y(M * N);
  if (transposed)
    cpu::linear_transposed(x.data(), w, M, K, N, y.data());
  else
    cpu::linear(x.data(), w, bias.data(), M, K, N, y.data(), {true, Activation::kGeluTanh, res.data()});
  return y;
}

class ReleaseTest : public ::testing::TestWithParam<std::string> {};  // param: the SIMD target

// Per format, layout and panel limit (every M in panels; 0 and 8: fp32 past it takes BLAS over columns unpacked from
// the panels): the same bits before and after release, at shapes with a tail panel and odd K.
TEST_P(ReleaseTest, ReleasedLinearComputesTheSameBitsOnEveryPath) {
  KernelScope scope;
  ASSERT_TRUE(cpu::set_simd(GetParam()));
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {{1, 64, 96}, {13, 31, 47}, {9, 96, 70},
                                                                     {70, 40, 33}, {100, 257, 70}};
  for (const char* format : {"f32", "bf16", "int8", "int4"})
    for (bool transposed : {false, true})
      for (auto [M, K, N] : shapes) {
        if (std::string(format).rfind("int", 0) == 0 && K % 32) continue;  // quantized groups want whole blocks
        const auto w = randn(K * N, 24, 0.1f);
        auto alive = std::make_shared<bool>(true);
        Tensor t = tracked_tensor(w, transposed ? Shape{N, K} : Shape{K, N}, alive);
        const cpu::ScopedWeightFormat fmt(cpu::parse_weight_format(format, "test"));
        cpu::PreparedWeights prepared(cpu::weight_format_for_load().storage);
        prepared.add(t, transposed);
        const float* old_address = t.f32();
        std::vector<std::vector<float>> before;
        for (int64_t max_m : {std::numeric_limits<int64_t>::max(), int64_t{0}, int64_t{8}}) {
          cpu::set_panel_max_m(max_m);
          before.push_back(run_linear(t.f32(), transposed, M, K, N));
        }
        EXPECT_EQ(prepared.source_bytes(), t.nbytes());
        ASSERT_TRUE(prepared.release_source(t)) << format;
        EXPECT_FALSE(*alive) << format << ": the fp32 data is still allocated";
        EXPECT_EQ(prepared.source_bytes(), 0u);
        EXPECT_TRUE(prepared.any_source_released());
        EXPECT_NE(t.f32(), old_address);
        EXPECT_EQ(t.shape(), (transposed ? Shape{N, K} : Shape{K, N}));
        EXPECT_EQ(cpu::find_packed(old_address, K, N), nullptr);  // the freed address finds nothing
        ASSERT_NE(cpu::find_packed(t.f32(), K, N), nullptr);
        EXPECT_FALSE(prepared.release_source(t));  // once only
        size_t i = 0;
        for (int64_t max_m : {std::numeric_limits<int64_t>::max(), int64_t{0}, int64_t{8}}) {
          cpu::set_panel_max_m(max_m);
          EXPECT_EQ(run_linear(t.f32(), transposed, M, K, N), before[i++])
              << format << (transposed ? " T " : " ") << M << "x" << K << "x" << N << " panel_max_m " << max_m;
        }
      }
}

INSTANTIATE_TEST_SUITE_P(Targets, ReleaseTest, ::testing::ValuesIn(cpu::simd_targets()),
                         [](const auto& info) { return info.param; });

TEST(ReleaseSource, AWeightTheSetDidNotPackIsLeftAlone) {
  const auto w = randn(64 * 32, 25);
  auto alive = std::make_shared<bool>(true);
  Tensor packed = tracked_tensor(w, {64, 32}, alive), other = tracked_tensor(w, {64, 32}, alive);
  cpu::PreparedWeights prepared(cpu::WeightStorage::kF32);
  prepared.add(packed, false);
  const float* before = other.f32();
  EXPECT_FALSE(prepared.release_source(other));
  EXPECT_EQ(other.f32(), before);
  Tensor empty;
  EXPECT_FALSE(prepared.release_source(empty));
}

// The stand-in holds no memory: a read through it faults instead of returning some other buffer's bytes.
TEST(ReleaseSourceDeathTest, ReadingAReleasedWeightFaults) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";  // the thread pool runs
  const auto w = randn(64 * 32, 26);
  Tensor t = tracked_tensor(w, {64, 32}, std::make_shared<bool>(true));
  cpu::PreparedWeights prepared(cpu::WeightStorage::kF32);
  prepared.add(t, false);
  ASSERT_TRUE(prepared.release_source(t));
  EXPECT_DEATH(
      {
        volatile float v = t.f32()[t.numel() - 1];
        (void)v;
      },
      "");
}

// The token lookup (cpu::embedding) and the token + position lookup (cpu::embedding_sum) of `table` [V, C] return
// the rows of `v` (its values) bit for bit, for ids that hit the first, last and a tail panel's rows.
void expect_lookup_reads(const Tensor& table, const std::vector<float>& v, int64_t V, int64_t C, const std::string& what) {
  const int64_t P = 9;
  const std::vector<int32_t> ids = {0, 76, 32, 31, 5, 76, 63, 64}, pos = {0, 1, 2, 3, 4, 5, 6, 8};
  const int64_t R = static_cast<int64_t>(ids.size());
  ASSERT_EQ(V, 77);
  const auto wpe = randn(P * C, 32);
  std::vector<float> out(R * C), sum(R * C);
  cpu::embedding(table.f32(), V, C, ids.data(), R, out.data());
  cpu::embedding_sum(table.f32(), V, ids.data(), wpe.data(), P, pos.data(), C, R, sum.data());
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const float want = v[ids[r] * C + c];
      ASSERT_EQ(std::memcmp(&out[r * C + c], &want, sizeof(float)), 0) << what << " row " << r << " col " << c;
      ASSERT_EQ(sum[r * C + c], want + wpe[pos[r] * C + c]) << what << " row " << r << " col " << c;
    }
}

// A tied embedding table goes with its lm_head when the panels hold it exactly (models/weight_layout.h
// pack_weights): the table's last reference is dropped and the lookup reads the rows from the panels, bit for bit
// the table's -- fp32 panels, and bf16 panels of bf16 values. A quantized lm_head and a table of bf16 values part: the
// table into bf16 lookup panels, the head into a stand-in of its own, quantized as from the fp32 table. Panels that
// would not reproduce it (bf16 of other values; a quantized head beside other values) leave the table as it was.
// Shapes with a tail panel and an odd width (bf16 pads k).
TEST(ReleaseTable, ReleasedOnlyWhenThePanelsHoldItAndTheLookupReadsThemExactly) {
  const int64_t V = 77, C = 19;
  struct Case {
    std::string format;
    bool quantize_head, bf16_values, released;
    cpu::WeightStorage storage;  // of the lm_head's panels, when unquantized
  };
  using cpu::WeightStorage;
  for (const Case& k : std::vector<Case>{{"f32", false, false, true, WeightStorage::kF32},
                                         {"f32", false, true, true, WeightStorage::kF32},
                                         {"bf16", false, true, true, WeightStorage::kBF16},
                                         {"bf16", false, false, false, WeightStorage::kBF16},
                                         // The 16-bit lm_head of a quantized format: bf16 panels of bf16 values, else
                                         // fp32 (exact either way).
                                         {"int8", false, false, true, WeightStorage::kF32},
                                         {"int4", false, true, true, WeightStorage::kBF16},
                                         {"int8", true, true, true, WeightStorage::kF32},
                                         {"int4", true, false, false, WeightStorage::kF32}}) {
    const std::string what = k.format + (k.quantize_head ? "+lm_head" : "") + (k.bf16_values ? " bf16 values" : "");
    auto v = randn(V * C, 31);
    if (k.bf16_values)
      for (float& x : v) x = bf16_to_f32(f32_to_bf16(x));
    cpu::WeightFormat f = cpu::parse_weight_format(k.format, "test");
    f.keep_sources = false;
    f.quantize_lm_head = k.quantize_head;
    const cpu::ScopedWeightFormat scope(f);
    auto alive = std::make_shared<bool>(true);
    Tensor table = tracked_tensor(v, {V, C}, alive);
    // Tied: the lm_head is listed as the table's own slot; pack_weights points the loader's lm_head slot at what the
    // head reads.
    Tensor head;
    const auto p = pack_weights(f.storage, {{&table, /*transposed=*/true, /*lm_head=*/true}}, &table, nullptr, &head);
    const bool parted = k.quantize_head && k.bf16_values;
    EXPECT_EQ(table.data() != head.data(), parted) << what;
    EXPECT_EQ(p->released(table.data()) != nullptr, k.released) << what;
    const cpu::PackedLinear* packed = cpu::find_packed(head.f32(), C, V);
    ASSERT_NE(packed, nullptr) << what;
    EXPECT_EQ(packed->quant != nullptr, k.quantize_head) << what;
    if (!packed->quant) EXPECT_EQ(packed->storage, k.storage) << what;
    if (parted) {
      const cpu::PackedLinear* lookup = cpu::find_packed(table.f32(), C, V);
      ASSERT_NE(lookup, nullptr) << what;
      EXPECT_TRUE(lookup->lookup_only && lookup->storage == WeightStorage::kBF16 && !lookup->quant) << what;
      EXPECT_NE(p->released(head.data()), nullptr) << what;
      cpu::PreparedWeights from_copy(f.storage);  // the codes add() makes of the fp32 table
      const Tensor copy = tracked_tensor(v, {V, C}, std::make_shared<bool>(true));
      from_copy.add(copy, /*transposed=*/true, /*lm_head=*/true);
      const cpu::PackedLinear* want = cpu::find_packed(copy.f32(), C, V);
      ASSERT_TRUE(want && want->quant) << what;
      ASSERT_EQ(packed->quant->stored_bytes(), want->quant->stored_bytes()) << what;
      EXPECT_EQ(std::memcmp(packed->quant->data.get(), want->quant->data.get(), want->quant->stored_bytes()), 0) << what;
    }
    EXPECT_EQ(*alive, !k.released) << what;
    expect_lookup_reads(table, v, V, C, what);
  }
}

// A tied table of f16 values (an F16 checkpoint's) beside a quantized lm_head parts as one of bf16 values does: the
// table into f16 lookup rows, the head into a stand-in of its own with add()'s codes of the fp32 table.
TEST(ReleaseTable, ATiedF16TableBesideAQuantizedHeadPartsToo) {
  const int64_t V = 77, C = 19;
  auto v = randn(V * C, 37);
  for (float& x : v) x = f16_to_f32(f32_to_f16(x));
  cpu::WeightFormat f = cpu::parse_weight_format("int4", "test");
  f.keep_sources = false;
  f.quantize_lm_head = true;
  const cpu::ScopedWeightFormat scope(f);
  auto alive = std::make_shared<bool>(true);
  Tensor table = tracked_tensor(v, {V, C}, alive), head;
  const auto p = pack_weights(f.storage, {{&table, /*transposed=*/true, /*lm_head=*/true}}, &table, nullptr, &head);
  ASSERT_NE(table.data(), head.data());
  EXPECT_FALSE(*alive);
  const cpu::PackedLinear* lookup = cpu::find_packed(table.f32(), C, V);
  ASSERT_TRUE(lookup && lookup->lookup_only && lookup->f16_rows);
  expect_lookup_reads(table, v, V, C, "tied f16 table");
  cpu::PreparedWeights from_copy(f.storage);
  const Tensor copy = tracked_tensor(v, {V, C}, std::make_shared<bool>(true));
  from_copy.add(copy, /*transposed=*/true, /*lm_head=*/true);
  const cpu::PackedLinear* got = cpu::find_packed(head.f32(), C, V);
  const cpu::PackedLinear* want = cpu::find_packed(copy.f32(), C, V);
  ASSERT_TRUE(got && want && got->quant && want->quant);
  ASSERT_EQ(got->quant->stored_bytes(), want->quant->stored_bytes());
  EXPECT_EQ(std::memcmp(got->quant->data.get(), want->quant->data.get(), want->quant->stored_bytes()), 0);
}

// An untied table is packed for its lookup alone (PreparedWeights::add_table), in every format (fp32 ones too: the
// lookup reads the values back exactly): into bf16 panels when every value is a bf16 value, else into f16 rows when
// every value is an f16 value (F32 tensors of such values and F16 ones as stored), and its fp32 data goes; other
// values, or a format that keeps sources (CUDA builds), keep the fp32 table. The rows looked up are the table's, bit
// for bit, and the lm_head is packed as before.
TEST(ReleaseTable, AnUntiedTableOf16BitValuesGoesTo16BitsInEveryFormat) {
  const int64_t V = 77, C = 19;
  enum class Values { kBf16, kF16, kOther };
  for (const std::string format : {"f32", "bf16", "int8", "int4"})
    for (Values values : {Values::kBf16, Values::kF16, Values::kOther})
      for (bool keep : {false, true}) {
        const char* names[] = {"bf16 values", "f16 values", "other values"};
        const std::string what = format + " " + names[static_cast<int>(values)] + (keep ? " keep" : "");
        auto v = randn(V * C, 31);
        for (float& x : v) x = values == Values::kBf16 ? bf16_to_f32(f32_to_bf16(x))
                               : values == Values::kF16 ? f16_to_f32(f32_to_f16(x)) : x;
        cpu::WeightFormat f = cpu::parse_weight_format(format, "test");
        f.keep_sources = keep;
        const cpu::ScopedWeightFormat scope(f);
        auto alive = std::make_shared<bool>(true);
        Tensor table = tracked_tensor(v, {V, C}, alive);
        Tensor head = tracked_tensor(randn(V * C, 33), {V, C}, std::make_shared<bool>(true));
        const auto p = pack_weights(f.storage, {{&head, /*transposed=*/true, /*lm_head=*/true}}, &table, nullptr);
        const bool released = values != Values::kOther && !keep;
        EXPECT_EQ(p->released(table.data()) != nullptr, released) << what;
        EXPECT_EQ(*alive, !released) << what;
        const cpu::PackedLinear* packed = cpu::find_packed(table.f32(), C, V);
        ASSERT_EQ(packed != nullptr, released) << what;
        if (packed) {
          EXPECT_EQ(packed->f16_rows, values == Values::kF16) << what;
          if (!packed->f16_rows) EXPECT_EQ(packed->storage, cpu::WeightStorage::kBF16) << what;
          EXPECT_EQ(packed->quant, nullptr) << what;
          if (packed->f16_rows) EXPECT_EQ(packed->nbytes(), static_cast<size_t>(V * C * 2)) << what;
        }
        // A decode step streams the lm_head, not the table it gathers a few rows of (the roofline's bytes).
        EXPECT_EQ(p->step_bytes() + (packed ? packed->nbytes() : 0), p->nbytes()) << what;
        EXPECT_GT(p->step_bytes(), 0u) << what;
        ASSERT_NE(cpu::find_packed(head.f32(), C, V), nullptr) << what;  // the lm_head: packed as ever
        expect_lookup_reads(table, v, V, C, what);
      }
  // F16 as stored (a checkpoint's rows): the same rows, no fp32 copy.
  const auto v = randn(V * C, 35);
  Tensor rows = Tensor::zeros({V, C}, DType::kF16);
  auto* bits = static_cast<uint16_t*>(rows.data());
  std::vector<float> want(V * C);
  for (int64_t i = 0; i < V * C; ++i) want[i] = f16_to_f32(bits[i] = f32_to_f16(v[i]));
  cpu::WeightFormat f = cpu::parse_weight_format("int8", "test");
  f.keep_sources = false;
  const cpu::ScopedWeightFormat scope(f);
  cpu::PreparedWeights p(f.storage);
  const Tensor stand_in = p.add_table(rows);
  ASSERT_TRUE(stand_in.defined());
  expect_lookup_reads(stand_in, want, V, C, "F16 rows as stored");
}

// A quantized lm_head quantized from its stored rows in blocks, each packed into its panels at once
// (PreparedWeights::add_quantized_head, ops/quant.h pack_quant_rows), is the one add() makes of its fp32 copy, byte
// for byte, whatever the block size (7 and 40 rows round up to 32 and 64: whole panels, a partial last block), for
// BF16 and F16 rows; released from the start; nothing when the format keeps sources or leaves the lm_head in 16 bits.
TEST(ReleaseTable, AQuantizedHeadFromItsRowsInBlocksIsTheOneFromAnFp32Copy) {
  const int64_t N = 77, K = 40;
  for (const std::string format : {"int8", "int4", "int4-g128-zp", "int8-ch"})
    for (DType dt : {DType::kBF16, DType::kF16}) {
      const std::string what = format + " " + dtype_name(dt);
      const auto v = randn(N * K, 61);
      Tensor rows = Tensor::zeros({N, K}, dt);
      auto* bits = static_cast<uint16_t*>(rows.data());
      for (int64_t i = 0; i < N * K; ++i) bits[i] = dt == DType::kBF16 ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
      Tensor copy = rows.to_f32();
      cpu::WeightFormat f = cpu::parse_weight_format(format, "test");
      f.quantize_lm_head = true;
      f.keep_sources = false;
      const cpu::ScopedWeightFormat scope(f);
      cpu::PreparedWeights from_copy(f.storage);
      from_copy.add(copy, /*transposed=*/true, /*lm_head=*/true);
      const cpu::PackedLinear* b = cpu::find_packed(copy.f32(), K, N);
      for (const int64_t block_rows : {7, 40}) {
        cpu::PreparedWeights from_rows(f.storage);
        int64_t done = 0;
        const Tensor stand_in = from_rows.add_quantized_head(rows, [&](int64_t n0, int64_t n1) {
          EXPECT_EQ(n0, done) << what;
          done = n1;
        }, block_rows);
        EXPECT_EQ(done, N) << what;
        ASSERT_TRUE(stand_in.defined()) << what;
        EXPECT_NE(from_rows.released(stand_in.data()), nullptr) << what;
        const cpu::PackedLinear* a = cpu::find_packed(stand_in.f32(), K, N);
        ASSERT_TRUE(a && b && a->quant && b->quant) << what;
        ASSERT_EQ(a->quant->stored_bytes(), b->quant->stored_bytes()) << what;
        EXPECT_EQ(std::memcmp(a->quant->data.get(), b->quant->data.get(), a->quant->stored_bytes()), 0)
            << what << " blocks of " << block_rows;
      }
      f.keep_sources = true;
      {
        const cpu::ScopedWeightFormat keep(f);
        cpu::PreparedWeights kept(f.storage);
        EXPECT_FALSE(kept.add_quantized_head(rows).defined()) << what;
      }
      f.keep_sources = false;
      f.quantize_lm_head = false;
      const cpu::ScopedWeightFormat head_16(f);
      cpu::PreparedWeights sixteen(f.storage);
      EXPECT_FALSE(sixteen.add_quantized_head(rows).defined()) << what;
    }
}

// Whether the lm_head is another weight's storage (the embedding table).
bool tied_head(const std::map<std::string, Tensor>& weights) {
  const Tensor& head = weights.at("lm_head.weight");
  for (const auto& [name, t] : weights)
    if (name != "lm_head.weight" && t.data() == head.data()) return true;
  return false;
}

Model load_preset(const std::string& preset, const std::string& format, bool keep) {
  cpu::WeightFormat f = cpu::parse_weight_format(format, "test");
  f.keep_sources = keep;
  const cpu::ScopedWeightFormat scope(f);
  return Model::random_preset(preset, 5);
}

// Every family (tied and untied heads, OPT's projections) and format: after load only the tensors the embedding
// lookup reads stay -- a tied lm_head is the embedding table, and it goes too where the panels hold it exactly (fp32
// panels: f32, and the 16-bit lm_head of int8 / int4; not the bf16 panels of these fp32 random values) -- and the
// released model gives the kept one's logits bit for bit, eager and compiled, with panels and (fp32) with the BLAS
// fallback at every M; same fingerprint.
TEST(ReleaseModel, LoadReleasesTheLinearsAndLogitsStayTheSame) {
  KernelScope scope;
  const std::vector<std::vector<int32_t>> ids = {{5, 17, 300, 2, 99, 41, 7}, {1, 2, 3, 4, 5, 6, 8}};
  for (const std::string preset : {"tiny", "llama-tiny", "qwen2-tiny", "mistral-tiny", "opt-tiny", "opt-tiny-postln"})
    for (const std::string format : {"f32", "bf16", "int8", "int4"}) {
      const Model kept = load_preset(preset, format, true), released = load_preset(preset, format, false);
      const cpu::PreparedWeights& pk = *kept.impl().model->prepared();
      const cpu::PreparedWeights& pr = *released.impl().model->prepared();
      EXPECT_FALSE(pk.any_source_released()) << preset << " " << format;
      ASSERT_TRUE(pr.any_source_released()) << preset << " " << format;
      const auto weights = released.impl().model->weights_by_name();
      const Tensor& head = weights.at("lm_head.weight");
      const bool table_stays = tied_head(weights) && format == "bf16";
      EXPECT_EQ(pr.source_bytes(), table_stays ? head.nbytes() : 0u) << preset << " " << format;
      EXPECT_EQ(pr.released(head.data()) != nullptr, !table_stays) << preset << " " << format;
      EXPECT_GT(pk.source_bytes(), pr.source_bytes()) << preset;
      EXPECT_EQ(model_fingerprint(kept.impl()), model_fingerprint(released.impl())) << preset << " " << format;
      for (int64_t max_m : {std::numeric_limits<int64_t>::max(), int64_t{0}}) {
        cpu::set_panel_max_m(max_m);
        for (const ExecutionMode mode : {ExecutionMode::kEager, ExecutionMode::kCompiled})
          EXPECT_EQ(kept.forward_logits(ids, {}, mode), released.forward_logits(ids, {}, mode))
              << preset << " " << format << " panel_max_m " << max_m << " mode " << static_cast<int>(mode);
      }
      cpu::set_panel_max_m(scope.panel_max_m);
    }
}

// Folders as users load them (f16 and bf16 checkpoints, untied Llamas and a tied OPT), in every format: a plain load
// and a --check-weights load hold no linear sources -- the lm_head packed from the checkpoint as stored where its
// panels hold it exactly, a tied table gone with it, or parted from a quantized head into bf16 lookup panels --
// except the tied table that bf16 panels would round (none here: an F16 Llama is untied); an untied BF16 table is
// bf16 panels and an F16 one f16 rows (no fp32 table); and they give the logits and fingerprint of a load that keeps
// every fp32 copy.
TEST(ReleaseModel, FolderLoadsReleaseWithAndWithoutCheckWeights) {
  const std::vector<std::vector<int32_t>> ids = {{5, 17, 200, 2, 99}};
  for (const std::string args : {"--family llama --config llama-tiny --dtype F16",
                                 "--family llama --config llama-tiny --dtype BF16", "--config opt-tiny --dtype BF16"}) {
    test::TempDir tmp;
    const auto r = test::run_cli("make-model --out '" + tmp.path() + "' " + args + " --vocab-size 300");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const std::string format : {"f32", "bf16", "int8", "int4+lm_head"}) {
      cpu::WeightFormat f = cpu::parse_weight_format(format.substr(0, format.find('+')), "test");
      f.quantize_lm_head = format.find("+lm_head") != std::string::npos;
      Model kept = [&] {
        cpu::WeightFormat k = f;
        k.keep_sources = true;
        const cpu::ScopedWeightFormat scope(k);
        return Model::from_dir(tmp.path());
      }();
      EXPECT_FALSE(kept.impl().model->prepared()->any_source_released());
      const auto want = kept.forward_logits(ids, {}, ExecutionMode::kCompiled);
      f.keep_sources = false;
      const cpu::ScopedWeightFormat scope(f);
      for (bool check : {false, true}) {
        const std::string what = args + " " + format + " check " + (check ? "1" : "0");
        const Model m = Model::from_dir(tmp.path(), check);
        const cpu::PreparedWeights& p = *m.impl().model->prepared();
        const auto weights = m.impl().model->weights_by_name();
        const Tensor& head = weights.at("lm_head.weight");
        EXPECT_EQ(p.source_bytes(), 0u) << what;
        EXPECT_NE(p.released(head.data()), nullptr) << what;
        const bool opt = args.find("opt") != std::string::npos;
        const Tensor& table = weights.at(opt ? "model.decoder.embed_tokens.weight" : "model.embed_tokens.weight");
        if (!opt) {
          EXPECT_NE(table.data(), head.data()) << what;  // untied
          EXPECT_NE(p.released(table.data()), nullptr) << what;  // bf16 panels or f16 rows
        } else {  // tied BF16: one stand-in, or a quantized head apart from the table's bf16 lookup panels
          EXPECT_EQ(table.data() != head.data(), f.quantize_lm_head) << what;
          EXPECT_NE(p.released(table.data()), nullptr) << what;
        }
        EXPECT_EQ(model_fingerprint(m.impl()), model_fingerprint(kept.impl())) << what;
        EXPECT_EQ(m.forward_logits(ids, {}, ExecutionMode::kCompiled), want) << what;
        EXPECT_EQ(m.forward_logits(ids, {}, ExecutionMode::kEager), kept.forward_logits(ids, {}, ExecutionMode::kEager))
            << what;
      }
    }
  }
}

}  // namespace
}  // namespace jitgen
