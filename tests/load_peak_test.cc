// Loading holds at most one fp32 matrix beyond what the model keeps (models/weight_layout.h WeightReads, pack_weights),
// --check-weights refuses a NaN / Inf before anything is read, and a load's fingerprint is that of a load that read
// every tensor first. (The weight release itself: release_weights_test.cc.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"
#include "jitgen/error.h"
#include "jitgen/model.h"
#include "models/model_impl.h"
#include "models/weight_layout.h"
#include "ops/prepared_weights.h"
#include "test_support.h"

namespace jitgen {
namespace {

// Loads check every tensor, then read, pack and release the packed weights one at a time (models/weight_layout.h
// WeightReads): the most fp32 copy bytes alive at once during a load is what the model keeps (embeddings, norms,
// biases, a tied lm_head) plus the largest packed matrix -- not every matrix, as when a loader read all tensors before
// packing the first. And where the lm_head's panels hold it exactly (fp32 panels; bf16 panels of a BF16 checkpoint)
// it is packed straight from the checkpoint (PreparedWeights::add_exact), tied or not: then the bound is the largest
// matrix but the lm_head, which is never copied. Every family, unquantized and quantized formats, F32 / F16 / BF16
// and sharded folders, GPTQ / AWQ.
struct LoadCopies {
  size_t peak_above_kept = 0, largest = 0, largest_but_head = 0, released = 0;  // bytes
};

LoadCopies load_copies(const std::string& dir, const std::string& format, bool check_weights = false,
                       bool quantize_head = false) {
  cpu::WeightFormat f = cpu::parse_weight_format(format, "test");
  f.keep_sources = false;
  f.quantize_lm_head = quantize_head;
  const cpu::ScopedWeightFormat scope(f);
  const size_t before = weight_copy_bytes().live;
  reset_weight_copy_peak();
  const Model m = Model::from_dir(dir, check_weights);
  const WeightCopyBytes after = weight_copy_bytes();
  LoadCopies out;
  out.peak_above_kept = after.peak - after.live;
  EXPECT_GE(after.live, before);
  const cpu::PreparedWeights* p = m.impl().model->prepared();
  const auto weights = m.impl().model->weights_by_name();
  std::map<const void*, size_t> released;  // a tied table and its lm_head are one stand-in
  const void* head = weights.at("lm_head.weight").data();
  for (const auto& [name, t] : weights) {
    // An untied table in bf16 panels was packed from the checkpoint rows (add_table): never copied, not a matrix.
    if (t.data() != head && name.find("embed_tokens") != std::string::npos) continue;
    if (p && p->released(t.data())) released[t.data()] = t.nbytes();
  }
  for (const auto& [data, bytes] : released) {
    out.largest = std::max(out.largest, bytes);
    if (data != head) out.largest_but_head = std::max(out.largest_but_head, bytes);
    out.released += bytes;
  }
  return out;
}

TEST(LoadPeak, AtMostOneFp32MatrixAliveBeyondWhatTheModelKeeps) {
  const std::vector<std::string> folders = {"--family llama --config llama-tiny --dtype F32",
                                            "--family qwen2 --config qwen2-tiny --dtype BF16 --shards 2",
                                            "--config tiny --dtype F16", "--config opt-tiny --dtype BF16"};
  for (const std::string& args : folders) {
    test::TempDir tmp;
    const auto r = test::run_cli("make-model --out '" + tmp.path() + "' " + args + " --vocab-size 300");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const std::string format : {"f32", "bf16", "int8", "int4"})
      for (bool check : {false, true}) {  // --check-weights scans the stored values in pass 1: no copies kept
        const LoadCopies c = load_copies(tmp.path(), format, check);
        ASSERT_GT(c.released, c.largest) << args;  // two or more matrices: reading all first would exceed the bound
        // bf16 panels round an F32 / F16 lm_head: read as fp32 then.
        const bool head_from_checkpoint = format != "bf16" || args.find("BF16") != std::string::npos;
        EXPECT_LE(c.peak_above_kept, head_from_checkpoint ? c.largest_but_head : c.largest)
            << args << " " << format << " check " << check << ": " << c.released << " bytes released";
      }
    // A quantized lm_head is quantized from the checkpoint rows in blocks (PreparedWeights::add_quantized_head) --
    // a tied BF16 table's too, beside its bf16 lookup panels -- or from a tied table the lookup keeps in fp32: never
    // from an fp32 copy of its own.
    for (const std::string format : {"int8", "int4"}) {
      const LoadCopies c = load_copies(tmp.path(), format, /*check_weights=*/false, /*quantize_head=*/true);
      EXPECT_LE(c.peak_above_kept, c.largest_but_head) << args << " " << format << "+lm_head: " << c.released
                                                       << " bytes released";
    }
  }
  for (const std::string name : {"gptq_g128_asym_descact_v2", "awq_g64_qwen2"})
    for (bool check : {false, true}) {
      const LoadCopies c = load_copies(test::fixture_path("quantized/" + name), "f32", check);
      ASSERT_GT(c.released, c.largest) << name;
      EXPECT_LE(c.peak_above_kept, c.largest_but_head)
          << name << " check " << check << ": " << c.released << " bytes released";
    }
}

// Rewrites the .safetensors file holding `name` in `dir` with one value of that tensor a NaN (in its own dtype).
void poison(const std::string& dir, const std::string& name) {
  const std::string file = io::Checkpoint::open_dir(dir).find(name)->file;
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;
  {
    const auto f = io::SafetensorsFile::open(file);
    metadata = f->metadata();
    for (const io::TensorEntry& e : f->tensors()) {
      Tensor t = Tensor::zeros(e.tensor.shape(), e.tensor.dtype());
      std::memcpy(t.data(), e.tensor.data(), t.nbytes());
      if (e.name == name) {
        const int64_t i = t.numel() / 2;
        if (t.dtype() == DType::kF32) t.f32()[i] = std::numeric_limits<float>::quiet_NaN();
        else static_cast<uint16_t*>(t.data())[i] = t.dtype() == DType::kBF16 ? 0x7fc0 : 0x7e00;
      }
      tensors.emplace_back(e.name, std::move(t));
    }
  }
  io::write_safetensors(file, tensors, metadata);
}

// --check-weights refuses a NaN in any checkpoint tensor the model reads -- F32, F16 and BF16 values, a later shard,
// a GPTQ module's scales -- naming the file and the tensor, having read (and packed) nothing. Without it the same
// folder loads (the NaN reaches the logits, GEN-NONFINITE-LOGITS).
TEST(LoadPeak, CheckWeightsRefusesANaNBeforeAnythingIsRead) {
  struct Case {
    std::string make_model, tensor;  // make_model empty: a copy of the GPTQ fixture
  };
  const std::vector<Case> cases = {
      {"--family qwen2 --config qwen2-tiny --dtype BF16 --shards 2", "model.layers.1.mlp.down_proj.weight"},
      {"--config tiny --dtype F16", "h.1.mlp.c_fc.weight"},
      {"--config opt-tiny --dtype F32", "model.decoder.final_layer_norm.weight"},
      {"", "model.layers.0.mlp.up_proj.scales"}};
  for (const Case& k : cases) {
    test::TempDir tmp;
    if (k.make_model.empty()) {
      std::filesystem::copy(test::fixture_path("quantized/gptq_g128_asym_descact_v2"), tmp.path(),
                            std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
    } else {
      const auto r = test::run_cli("make-model --out '" + tmp.path() + "' " + k.make_model + " --vocab-size 300");
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    poison(tmp.path(), k.tensor);
    const std::string file = io::Checkpoint::open_dir(tmp.path()).find(k.tensor)->file;
    EXPECT_NO_THROW((void)Model::from_dir(tmp.path())) << k.tensor;
    const size_t before = weight_copy_bytes().live;
    reset_weight_copy_peak();
    try {
      (void)Model::from_dir(tmp.path(), /*check_weights=*/true);
      ADD_FAILURE() << "loaded " << k.tensor << " with a NaN under --check-weights";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()),
                file + ": tensor \"" + k.tensor + "\" contains NaN or Inf values (--check-weights)");
    }
    EXPECT_EQ(weight_copy_bytes().peak, before) << k.tensor;
    EXPECT_EQ(weight_copy_bytes().live, before) << k.tensor;
  }
}

// A safetensors file whose data section starts at an odd offset (a writer that did not pad the header): open() hands
// out aligned copies of its tensors, in anonymous memory. Dropping "checkpoint pages" there zeroes the copy, and
// --check-weights scans each tensor in pass 1 before the load reads it in pass 2: the load must still read the values
// the file holds (it read zeros: other tokens, silently).
void misalign(const std::string& file) {
  std::string b = test::read_file(file);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(b[i]);
  std::string header = b.substr(8, n);
  while (!header.empty() && header.back() == ' ') header.pop_back();
  header += header.size() % 2 ? "  " : " ";  // odd: every tensor's data starts at an odd address
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  test::write_file(file, out + header + b.substr(8 + n));
}

TEST(LoadPeak, CheckWeightsReadsTheValuesOfAMisalignedCheckpoint) {
  const std::vector<std::vector<int32_t>> ids = {{5, 17, 200, 2, 99}};
  for (const std::string args : {"--family llama --config llama-tiny --dtype BF16 --config-json '{\"tie_word_embeddings\": true}'",
                                 "--family llama --config llama-tiny --dtype F32", "--config tiny --dtype F16"}) {
    test::TempDir tmp;
    const auto r = test::run_cli("make-model --out '" + tmp.path() + "' " + args + " --vocab-size 300");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto want = Model::from_dir(tmp.path()).forward_logits(ids, {}, ExecutionMode::kEager);
    misalign(tmp.path() + "/model.safetensors");
    for (bool keep : {false, true}) {
      cpu::WeightFormat f = cpu::parse_weight_format("f32", "test");
      f.keep_sources = keep;
      const cpu::ScopedWeightFormat scope(f);
      for (bool check : {false, true})
        EXPECT_EQ(Model::from_dir(tmp.path(), check).forward_logits(ids, {}, ExecutionMode::kEager), want)
            << args << " keep " << keep << " check " << check;
    }
  }
}

// Every tensor is checked before the first is read: a checkpoint whose last tensor is missing is refused having
// read (and packed) nothing.
TEST(LoadPeak, ABadLastTensorIsRefusedBeforeAnythingIsRead) {
  test::TempDir tmp;
  const auto r = test::run_cli("make-model --out '" + tmp.path() +
                               "' --family llama --config llama-tiny --vocab-size 300 --config-json "
                               "'{\"tie_word_embeddings\": true}'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json config = nlohmann::json::parse(test::read_file(tmp.path() + "/config.json"));
  config["tie_word_embeddings"] = false;  // now lm_head.weight, the last tensor read, is missing
  test::write_file(tmp.path() + "/config.json", config.dump());
  const size_t before = weight_copy_bytes().live;
  reset_weight_copy_peak();
  try {
    (void)Model::from_dir(tmp.path());
    ADD_FAILURE() << "loaded a checkpoint without lm_head.weight";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor \"lm_head.weight\""), std::string::npos) << e.what();
  }
  EXPECT_EQ(weight_copy_bytes().peak, before);
  EXPECT_EQ(weight_copy_bytes().live, before);
}

// The plan cache names plans by the model fingerprint, computed at load from sampled bytes of every weight (a released
// one's from the bytes kept at release): reading the weights one at a time must leave it as it was. The values are
// main b00c0b3's (whose loaders read every tensor before packing the first) for the same deterministic folders.
TEST(LoadPeak, FingerprintsAreThoseOfLoadsThatReadEverythingFirst) {
  const std::vector<std::pair<std::string, std::string>> want = {
      {"--family llama --config llama-tiny --dtype BF16", "4bb0036b2e99dffa"},
      {"--config tiny --dtype F16", "4d05c33e7bc70b16"},
      {"--config opt-tiny --dtype F32", "699b4459f1ce4b30"}};
  for (const auto& [args, fingerprint] : want) {
    test::TempDir tmp;
    const auto r = test::run_cli("make-model --out '" + tmp.path() + "' " + args + " --vocab-size 300");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const std::string format : {"f32", "int8"}) {
      const cpu::ScopedWeightFormat scope(cpu::parse_weight_format(format, "test"));
      EXPECT_EQ(model_fingerprint(Model::from_dir(tmp.path()).impl()), fingerprint) << args << " " << format;
    }
  }
  const Model gptq = Model::from_dir(test::fixture_path("quantized/gptq_g128_asym_descact_v2"));
  EXPECT_EQ(model_fingerprint(gptq.impl()), "064d3ac14a83db56");
}

}  // namespace
}  // namespace jitgen
