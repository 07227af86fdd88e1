// Replays every input under tests/fixtures/fuzz_regressions/<harness>/ through the entry point its fuzz harness
// (fuzz/fuzz_<harness>.cc) drives. Each one once crashed, overflowed or leaked a foreign exception; now each must
// end in a jitgen::Error with a user-facing code (or succeed), which the ASan/UBSan pass (scripts/sanitize.sh)
// also checks for UB.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

#include "graph/plan_store.h"
#include "io/hf_config.h"
#include "models/gpt2/config.h"
#include "io/safetensors.h"
#include "jitgen/error.h"
#include "jitgen/generation_config.h"
#include "jitgen/model.h"
#include "jitgen/tokenizer.h"
#include "models/model_impl.h"
#include "exec/step_plan.h"
#include "test_support.h"

namespace jitgen {
namespace {

namespace fs = std::filesystem;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Runs `fn`: success or a jitgen::Error with a user code pass; kInternal or a foreign exception fails.
void expect_clean(const std::string& what, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_NE(e.code(), ErrorCode::kInternal) << what << ": " << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << what << ": message must be one line";
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": foreign exception escaped: " << e.what();
  }
}

std::vector<std::string> inputs(const std::string& harness) {
  std::vector<std::string> out;
  const fs::path dir = fs::path(test::fixture_path("fuzz_regressions")) / harness;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FuzzRegressions, GenerationOptions) {
  const auto files = inputs("generation_options");
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    const nlohmann::json overrides = io::read_json_file(f);
    for (int prompt_len : {1, 5, 1023, 1024}) {
      expect_clean(f, [&] {
        const GenerationConfig g = resolve_generation_config({{"eos_token_id", 50256}}, overrides);
        validate(g, 1024, prompt_len);
        const int n = effective_max_new_tokens(g, prompt_len, 1024);
        EXPECT_GE(n, 1);
        EXPECT_LE(prompt_len + n, 1024);
      });
    }
  }
}

TEST(FuzzRegressions, MaxNewTokensIntMaxIsALimitError) {
  GenerationConfig g;
  g.max_new_tokens = INT32_MAX;
  EXPECT_EQ(effective_max_length(g, 5, 1024), INT32_MAX);  // saturated, not wrapped
  try {
    validate(g, 1024, 5);
    ADD_FAILURE() << "expected kLimit";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kLimit) << e.what();
  }
}

TEST(FuzzRegressions, Uint64AboveInt64MaxIsNotReadAsNegative) {
  // 2^64-1 used to be read as -1 (then rejected with a misleading "got -1", or accepted where -1 is valid).
  try {
    (void)merge_generation_config(nlohmann::json::parse(R"({"top_k": 18446744073709551615})"), {}, "request");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("must be a 32-bit integer"), std::string::npos) << e.what();
  }
}

TEST(FuzzRegressions, TokenizerLoad) {
  const auto files = inputs("tokenizer_load");
  ASSERT_FALSE(files.empty());
  test::TempDir tmp;
  test::write_file(tmp.file("merges.txt"), "#version: 0.2\n");
  for (const auto& f : files) {
    expect_clean(f, [&] {
      if (ends_with(f, ".tokenizer.json")) {
        (void)Tokenizer::from_tokenizer_json(f);
      } else {
        (void)Tokenizer::from_vocab_merges(f, tmp.file("merges.txt"));
      }
    });
  }
}

TEST(FuzzRegressions, TokenizerJsonNumberOverflowIsAnInvalidFileError) {
  const std::string f = test::fixture_path("fuzz_regressions/tokenizer_load/number_overflow.tokenizer.json");
  try {
    (void)Tokenizer::from_tokenizer_json(f);
    ADD_FAILURE() << "expected kInvalidFile";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFile) << e.what();
    EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

// libsentencepiece's Darts trie throws a foreign exception for a model with an empty piece: a one-line error.
TEST(FuzzRegressions, SentencePieceModelWithAnEmptyPieceIsAnInvalidFileError) {
  test::TempDir tmp;
  test::write_file(tmp.file("tokenizer.model"),
                   test::read_file(test::fixture_path("fuzz_regressions/tokenizer_model/empty_piece.model")));
  test::write_file(tmp.file("tokenizer_config.json"), R"({"tokenizer_class": "T5Tokenizer"})");
  try {
    (void)Tokenizer::from_dir(tmp.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFile);
    EXPECT_NE(std::string(e.what()).find("tokenizer.model: not a SentencePiece model (sentencepiece:"), std::string::npos)
        << e.what();
  }
}

TEST(FuzzRegressions, HugeTokenIdIsRejectedBeforeAllocating) {
  test::TempDir tmp;
  test::write_file(tmp.file("merges.txt"), "#version: 0.2\n");
  const std::string f = test::fixture_path("fuzz_regressions/tokenizer_load/huge_token_id.vocab.json");
  try {
    (void)Tokenizer::from_vocab_merges(f, tmp.file("merges.txt"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFile);
    EXPECT_NE(std::string(e.what()).find("is far beyond the 3 tokens defined"), std::string::npos) << e.what();
  }
}

TEST(FuzzRegressions, ConfigSizesThatWouldOverflowAreRejected) {
  const std::string f = test::fixture_path("fuzz_regressions/hf_config/n_embd_times_4_overflow.json");
  try {
    (void)io::load_gpt2_config(f);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("field \"n_embd\" is 888888888, expected at most"), std::string::npos)
        << e.what();
  }
}

TEST(FuzzRegressions, HfConfig) {
  const auto files = inputs("hf_config");
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    expect_clean(f, [&] { (void)io::load_gpt2_config(f); });
    expect_clean(f, [&] {
      const GenerationConfig g = merge_generation_config(io::load_generation_defaults(f));
      validate(g, 1024, 1);
    });
  }
}

TEST(FuzzRegressions, Safetensors) {
  const auto files = inputs("safetensors");
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) expect_clean(f, [&] { (void)io::SafetensorsFile::open(f); });
}

// Plan cache files (fuzz/fuzz_plan_store.cc) for the built-in random GPT-2: `bytes` is put where the store looks
// for the plan of the step named by its own "key" field, then the step is compiled through the model's cache.
struct PlanFromDisk {
  CacheLookup lookup;
  std::string warnings;  // stderr during the lookup
};
PlanFromDisk compile_with_plan_file(const std::string& bytes) {
  const nlohmann::json doc = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  CompileKey key{"cpu", "f32", 1, 1, 64, true, ""};
  if (doc.is_object() && doc.contains("key") && doc["key"].is_string()) {
    char tail[8] = {};
    if (std::sscanf(doc["key"].get<std::string>().c_str(), "cpu/f32/B=%d/T=%d/S=%d/%4s", &key.rows,
                    &key.step_tokens, &key.capacity, tail) == 4)
      key.last_only = std::string(tail) == "last";
  }
  const Model model = Model::builtin_random_gpt2();  // its own compile cache
  const Model::Impl& m = model.impl();
  const test::TempDir dir;
  auto store = std::make_shared<PlanStore>(dir.path(), model_fingerprint(m), weights_by_name(m));
  test::write_file(store->path_for(key), bytes);
  m.compile_cache->set_store(store);
  testing::internal::CaptureStderr();
  PlanFromDisk r;
  r.lookup = compile_step(model, key.rows, key.step_tokens, key.capacity, key.last_only);
  r.warnings = testing::internal::GetCapturedStderr();
  return r;
}

// Each fixture is a corrupt plan: it must be ignored with one warning and the plan rebuilt, never trusted.
TEST(FuzzRegressions, PlanStoreIgnoresAndRebuildsCorruptPlans) {
  const auto files = inputs("plan_store");
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    const PlanFromDisk r = compile_with_plan_file(test::read_file(f));
    EXPECT_FALSE(r.lookup.from_disk) << f;
    EXPECT_EQ(r.warnings.rfind("jitgen: warning: ignoring plan cache file ", 0), 0u) << f << ": " << r.warnings;
    EXPECT_EQ(r.warnings.find('\n'), r.warnings.size() - 1) << f << ": one warning line expected: " << r.warnings;
    ASSERT_NE(r.lookup.exe, nullptr) << f;
    EXPECT_LE(r.lookup.exe->arena_bytes(), r.lookup.exe->memory_plan().naive_bytes) << f;
  }
}

// A plan file the fuzzer turned into one the store must ignore (rebuilding the plan), with a warning naming why.
void expect_ignored_with(const std::string& fixture, const std::string& why) {
  const std::string f = test::fixture_path("fuzz_regressions/plan_store/" + fixture);
  const PlanFromDisk r = compile_with_plan_file(test::read_file(f));
  EXPECT_FALSE(r.lookup.from_disk) << fixture;
  EXPECT_NE(r.warnings.find(why), std::string::npos) << fixture << ": " << r.warnings;
}

TEST(FuzzRegressions, PlanStoreArenaLargerThanItsBuffersIsIgnored) {
  // arena_bytes 2^40: accepted before the fix, then the runner's arena allocation failed ("out of memory").
  expect_ignored_with("arena_bytes_2pow40.plan.json", "is larger than its buffers");
}

TEST(FuzzRegressions, PlanStoreBuffersSharingBytesWhileAliveAreIgnored) {
  // Every arena offset 0: all inside the arena, so accepted before the fix, and generate printed other text.
  expect_ignored_with("aliased_buffers.plan.json", "share arena bytes while both are alive");
}

TEST(FuzzRegressions, PlanStoreIntegerFieldsMustBeIntegersInRange) {
  // An offset of -19223372036854775807 (below INT64_MIN, so JSON makes it a float): get<int64_t>() was UB (UBSan).
  expect_ignored_with("offset_below_int64_min.plan.json", "offsets is not an integer in range (number)");
}

TEST(FuzzRegressions, PlanStoreMisalignedOffsetIsIgnored) {
  // Offset 1482 (inside the arena, not 64-byte aligned): the linear kernel stored floats misaligned (UBSan).
  expect_ignored_with("misaligned_offset.plan.json", "offset 1482 is not 64-byte aligned");
}

// The fuzz seeds (and the fixtures above, made from them) must still be plans the built-in model accepts, or the
// harness would only ever fuzz the "another model" / "format version" rejections.
TEST(FuzzRegressions, PlanStoreSeedsLoadForTheBuiltInModel) {
  const fs::path seeds = fs::path(test::source_dir()) / "fuzz" / "corpus" / "fuzz_plan_store";
  int n = 0;
  for (const auto& e : fs::directory_iterator(seeds)) {
    const PlanFromDisk r = compile_with_plan_file(test::read_file(e.path().string()));
    EXPECT_TRUE(r.lookup.from_disk) << e.path() << " is stale (" << r.warnings
                                    << "): regenerate the seeds as fuzz/README.md says";
    ++n;
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace jitgen
