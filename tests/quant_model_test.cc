// Quantize at load (ops/prepared_weights.h WeightFormat): a quantized model's logits stay near fp32's, eager and
// compiled agree, the lm_head stays fp32 unless asked, the format is part of the compile key and the plan store,
// and bad formats are one-line errors naming the option or variable (CLI and library).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "jitgen/model.h"
#include "models/model_impl.h"
#include "ops/cpu_kernels.h"
#include "ops/prepared_weights.h"
#include "ops/quant.h"
#include "test_support.h"

namespace jitgen {
namespace {

Model tiny_with(const std::string& format, bool head = false) {
  cpu::WeightFormat f = cpu::parse_weight_format(format, "test");
  f.quantize_lm_head = head;
  const cpu::ScopedWeightFormat scope(f);
  return Model::random_preset("tiny", 3);
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

TEST(QuantModel, LogitsStayNearFp32AndEagerMatchesCompiled) {
  const std::vector<std::vector<int32_t>> ids = {{5, 17, 300, 2, 99, 41}};
  const Model f32 = tiny_with("f32");
  const auto ref = f32.forward_logits(ids, {}, ExecutionMode::kEager)[0];
  float scale = 0;
  for (float v : ref) scale = std::max(scale, std::fabs(v));
  for (const std::string format : {"int8", "int4", "int4-g128-zp", "int4-q40"}) {
    const Model q = tiny_with(format);
    ASSERT_EQ(q.impl().model->prepared()->format().name(), format);
    const auto eager = q.forward_logits(ids, {}, ExecutionMode::kEager)[0];
    const auto compiled = q.forward_logits(ids, {}, ExecutionMode::kCompiled)[0];
    const float err = max_abs_diff(eager, ref);
    EXPECT_GT(err, 0.0f) << format << ": the weights were not quantized";
    EXPECT_LT(err, (format == "int8" ? 0.05f : 0.5f) * scale) << format;
    EXPECT_LT(max_abs_diff(eager, compiled), 1e-4f * scale) << format;
  }
}

TEST(QuantModel, LmHeadIsQuantizedOnlyWhenAsked) {
  const Model plain = tiny_with("int8"), head = tiny_with("int8", true);
  EXPECT_EQ(head.impl().model->prepared()->format().name(), "int8+lm_head");
  // The tiny preset's lm_head [V, C] is most of its weights: quantized it is about a quarter of fp32's bytes.
  EXPECT_LT(head.impl().model->prepared()->nbytes(), plain.impl().model->prepared()->nbytes() * 0.6);
  const std::vector<std::vector<int32_t>> ids = {{1, 2, 3}};
  EXPECT_NE(plain.forward_logits(ids, {}, ExecutionMode::kEager), head.forward_logits(ids, {}, ExecutionMode::kEager));
}

TEST(QuantModel, ScopedBf16StoresBf16Panels) {  // the scope sets the storage too, not only the quantized format
  const Model m = tiny_with("bf16");
  EXPECT_EQ(m.impl().model->prepared()->storage(), cpu::WeightStorage::kBF16);
  EXPECT_EQ(m.impl().model->prepared()->format().name(), "bf16");
}

TEST(QuantModel, EnvironmentFormatIsParsedStrictly) {
  // Misspellings of every kind are refused by name, not run as fp32 (garbage and upper-case ints once were).
  for (const char* bad : {"int9", "garbage", "INT4", "int4-zp-f16", "fp16"}) {
    setenv("JITGEN_WEIGHTS", bad, 1);
    try {
      (void)cpu::weight_format_for_load();
      ADD_FAILURE() << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << bad;
      EXPECT_NE(std::string(e.what()).find(std::string("JITGEN_WEIGHTS: \"") + bad + "\" is not a weight format"),
                std::string::npos)
          << e.what();
    }
  }
  for (const char* ok : {"f32", "F32", "bf16", "BF16", ""}) {
    setenv("JITGEN_WEIGHTS", ok, 1);
    EXPECT_FALSE(cpu::weight_format_for_load().quant) << ok;
  }
  setenv("JITGEN_WEIGHTS", "int4-g128", 1);
  EXPECT_EQ(cpu::weight_format_for_load().name(), "int4-g128");
  {
    const cpu::ScopedWeightFormat scope(cpu::parse_weight_format("bf16", "x"));  // the scope wins over the variable
    EXPECT_EQ(cpu::weight_format_for_load().name(), "bf16");
  }
  unsetenv("JITGEN_WEIGHTS");
  EXPECT_EQ(cpu::weight_format_for_load().name(), "f32");
}

TEST(QuantCli, FormatIsInTheCompileKeyAndThePlanStore) {
  const auto dump = test::run_cli("generate --quantize int4 --dump-graph --max-new-tokens 3 'Hello'");
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_NE(dump.err.find("== plan cpu/int4/B=1/T=8/S=64/last"), std::string::npos) << dump.err;

  test::TempDir dir;
  const std::string args = " --verbose --max-new-tokens 4 --plan-cache '" + dir.path() + "' 'Hello'";
  const auto f32 = test::run_cli("generate" + args);
  ASSERT_EQ(f32.exit_code, 0) << f32.err;
  const auto int8 = test::run_cli("generate --quantize int8" + args);  // f32's plans are not int8's
  ASSERT_EQ(int8.exit_code, 0) << int8.err;
  EXPECT_NE(int8.err.find("(0 from --plan-cache)"), std::string::npos) << int8.err;
  // --verbose names the format and the kernels that ran it (the quantized path only for quantized weights).
  EXPECT_NE(f32.err.find("jitgen: weights f32; SIMD "), std::string::npos) << f32.err;
  EXPECT_EQ(f32.err.find("quantized kernels"), std::string::npos) << f32.err;
  EXPECT_NE(int8.err.find(std::string("jitgen: weights int8; SIMD ") + cpu::simd_name() + ", quantized kernels " +
                          cpu::quant_path_name(cpu::quant_path())),
            std::string::npos)
      << int8.err;
  const auto again = test::run_cli("generate --quantize int8" + args);
  EXPECT_NE(again.err.find("(2 from --plan-cache)"), std::string::npos) << again.err;
  EXPECT_EQ(int8.out, again.out);
}

// JITGEN_QUANTIZE_LM_HEAD=1 quantizes the lm_head with --quantize as with JITGEN_WEIGHTS (it was ignored beside the
// option): the plan's compile key names the format.
TEST(QuantCli, QuantizeLmHeadVariableHoldsBesideTheOption) {
  const std::string args = "generate --dump-graph --max-new-tokens 1 'Hello'";
  const std::string with_int4 = "generate --quantize int4 --dump-graph --max-new-tokens 1 'Hello'";
  setenv("JITGEN_QUANTIZE_LM_HEAD", "1", 1);
  const auto with_option = test::run_cli(with_int4);
  setenv("JITGEN_WEIGHTS", "int4", 1);
  const auto with_variable = test::run_cli(args);
  unsetenv("JITGEN_WEIGHTS");
  unsetenv("JITGEN_QUANTIZE_LM_HEAD");
  const auto without = test::run_cli(with_int4);
  for (const auto* r : {&with_option, &with_variable, &without}) ASSERT_EQ(r->exit_code, 0) << r->err;
  EXPECT_NE(with_option.err.find("== plan cpu/int4+lm_head/"), std::string::npos) << with_option.err;
  EXPECT_NE(with_variable.err.find("== plan cpu/int4+lm_head/"), std::string::npos) << with_variable.err;
  EXPECT_EQ(without.err.find("+lm_head"), std::string::npos) << without.err;
}

TEST(QuantCli, BadFormatsAreOneLineErrorsNamingTheOption) {
  const auto bad = test::run_cli("generate --quantize int3 'Hello'");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--quantize: \"int3\" is not a weight format"), std::string::npos) << bad.err;
  const auto head = test::run_cli("generate --quantize-lm-head 'Hello'");
  EXPECT_EQ(head.exit_code, 2);
  EXPECT_NE(head.err.find("--quantize-lm-head: needs --quantize"), std::string::npos) << head.err;
  const auto cuda = test::run_cli("generate --device cuda --quantize int8 'Hello'");
  EXPECT_NE(cuda.exit_code, 0);
}

}  // namespace
}  // namespace jitgen
