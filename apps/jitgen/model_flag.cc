// --model: shared by generate, tokenize, serve, chat and bench.
#include <iostream>

#include "commands.h"

namespace jitgen::cli {

namespace {
// The built-in default by name: kjv-llama-5m (models/kjv-llama-5m, sha256-checked at load).
constexpr const char* kBuiltinDefault = "builtin:kjv-llama-5m";
// The random-weight GPT-2 (tiny preset, seed 0) with the vendored GPT-2 tokenizer, by name, so that benchmarks and
// tests can ask for real GPT-2 shapes.
constexpr const char* kRandomGpt2 = "builtin:random-gpt2";
}  // namespace

void ModelFlag::add_to(CLI::App* cmd) {
  cmd->add_option("--model", dir,
                  "Hugging Face model folder, builtin:kjv-llama-5m (the default: a 5M Llama trained on the King James "
                  "Bible) or builtin:random-gpt2");
  cmd->add_flag("--check-weights", check_weights, "Scan every weight for NaN/Inf at load");
  cmd->add_option("--quantize", quantize,
                  "Quantize the linear weights at load (CPU): int8 or int4, then in this order -g128 or -ch (int8), "
                  "-q40 (int4), -f16, -zp (int4), e.g. int4-g128-f16-zp (docs/quantization.md; default: "
                  "$JITGEN_WEIGHTS)");
  cmd->add_flag("--quantize-lm-head", quantize_lm_head,
                "With --quantize: the lm_head too (default: not quantized, bf16 panels for a BF16 checkpoint, "
                "else fp32)");
}

cpu::WeightFormat ModelFlag::weight_format() const {
  cpu::WeightFormat f = quantize.empty() ? cpu::weight_format_for_load() : cpu::parse_weight_format(quantize, "--quantize");
  // JITGEN_QUANTIZE_LM_HEAD=1 is --quantize-lm-head beside --quantize too (weight_format_for_load reads it otherwise).
  if (!quantize.empty() && f.quant) f.quantize_lm_head = cpu::quantize_lm_head_from_env();
  if (quantize_lm_head) {
    if (!f.quant) throw_invalid_argument("--quantize-lm-head: needs --quantize int8 or int4 (or JITGEN_WEIGHTS)");
    f.quantize_lm_head = true;
  }
  return f;
}

bool ModelFlag::is_random_gpt2() const { return dir == kRandomGpt2; }

std::string ModelFlag::folder() const {
  if (dir.empty() || dir == kBuiltinDefault) return Model::builtin_default_dir();  // checks SHA256SUMS
  return is_random_gpt2() ? std::string() : dir;
}

Model ModelFlag::load_model() const {
  const cpu::ScopedWeightFormat format(weight_format());
  if (is_random_gpt2()) return Model::builtin_random_gpt2();
  const std::string d = folder();
  if (dir.empty())
    std::cerr << "jitgen: no --model given: using the built-in kjv-llama-5m (a 5M-parameter Llama trained on the "
                 "King James Bible, "
              << d << ")\n";
  return Model::from_dir(d, check_weights);
}

Tokenizer ModelFlag::load_tokenizer() const {
  return is_random_gpt2() ? Tokenizer::builtin_gpt2() : Tokenizer::from_dir(folder());
}

}  // namespace jitgen::cli
