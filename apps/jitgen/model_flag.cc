// --model: shared by generate, tokenize, serve and bench.
#include <iostream>

#include "commands.h"

namespace jitgen::cli {

namespace {
// The random-weight GPT-2 (tiny preset, seed 0) with the vendored GPT-2 tokenizer, by name, so that
// benchmarks and tests can ask for it whatever the default becomes.
constexpr const char* kRandomGpt2 = "builtin:random-gpt2";
}  // namespace

void ModelFlag::add_to(CLI::App* cmd) {
  cmd->add_option("--model", dir,
                  "Hugging Face model folder, or builtin:random-gpt2 (default: built-in small random GPT-2)");
  cmd->add_flag("--check-weights", check_weights, "Scan every weight for NaN/Inf at load");
  cmd->add_option("--quantize", quantize,
                  "Quantize the linear weights at load (CPU): int8, int8-ch, int4, int4-g128, +-f16, int4 +-zp "
                  "(default: $JITGEN_WEIGHTS)");
  cmd->add_flag("--quantize-lm-head", quantize_lm_head, "With --quantize: the lm_head too (default: kept in fp32)");
}

cpu::WeightFormat ModelFlag::weight_format() const {
  cpu::WeightFormat f = quantize.empty() ? cpu::weight_format_for_load() : cpu::parse_weight_format(quantize, "--quantize");
  if (quantize_lm_head) {
    if (!f.quant) throw_invalid_argument("--quantize-lm-head: needs --quantize int8 or int4 (or JITGEN_WEIGHTS)");
    f.quantize_lm_head = true;
  }
  return f;
}

Model ModelFlag::load_model() const {
  const cpu::ScopedWeightFormat format(weight_format());
  if (dir.empty()) {
    std::cerr << "jitgen: no --model given: using the built-in GPT-2 with RANDOM weights (the text is "
                 "meaningless)\n";
    return Model::builtin_default();
  }
  if (dir == kRandomGpt2) return Model::builtin_default();
  return Model::from_dir(dir, check_weights);
}

Tokenizer ModelFlag::load_tokenizer() const {
  return dir.empty() || dir == kRandomGpt2 ? Tokenizer::builtin_gpt2() : Tokenizer::from_dir(dir);
}

}  // namespace jitgen::cli
