// jitgen make-model: a deterministic random-weight folder in HF format for any registered family (tests, the
// oracle scripts and benchmarks use it).
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "commands.h"
#include "jitgen/error.h"
#include "models/registry.h"

namespace jitgen::cli {
namespace {

struct MakeModelFlags {
  std::string out, family, preset = "tiny", dtype = "F32", config_json;
  RandomModelOptions opt;
  bool tokenizer = false;
};

int run_make_model(MakeModelFlags f) {
  std::string preset;
  const Family& family = family_for_preset(f.family, f.preset, preset);
  if (f.dtype == "F32") f.opt.dtype = DType::kF32;
  else if (f.dtype == "F16") f.opt.dtype = DType::kF16;
  else if (f.dtype == "BF16") f.opt.dtype = DType::kBF16;
  else throw_invalid_argument(fmt::format("--dtype \"{}\": expected F32, F16 or BF16", f.dtype));
  if (f.tokenizer) f.opt.tokenizer_dir = JITGEN_DEFAULT_TOKENIZER_DIR;
  if (!f.config_json.empty()) {
    try {
      f.opt.config = nlohmann::json::parse(f.config_json);
    } catch (const nlohmann::json::exception& e) {
      throw_invalid_argument(fmt::format("--config-json: malformed JSON: {}", e.what()));
    }
    if (!f.opt.config.is_object()) throw_invalid_argument("--config-json: expected a JSON object of config.json fields");
  }
  const std::string what = family.write_random(preset, f.opt, f.out);
  std::cerr << fmt::format("wrote {} to {}\n", what, f.out);
  return 0;
}

}  // namespace

Subcommand register_make_model(CLI::App& parent) {
  auto f = std::make_shared<MakeModelFlags>();
  CLI::App* mk = parent.add_subcommand("make-model", "Write a deterministic random-weight model folder in HF format");
  mk->add_option("--out", f->out, "Output folder")->required();
  mk->add_option("--family", f->family, "config.json model_type: " + supported_model_types() +
                                            " (default: the family of the --config preset)");
  mk->add_option("--config", f->preset, "Shape preset: " + all_presets());
  mk->add_option("--seed", f->opt.seed, "Weight seed");
  mk->add_option("--dtype", f->dtype, "Stored dtype: F32, F16, BF16");
  mk->add_option("--shards", f->opt.shards, "Number of safetensors shards");
  mk->add_option("--n-layer", f->opt.layers, "Override the number of layers");
  mk->add_option("--n-head", f->opt.heads, "Override the number of attention heads");
  mk->add_option("--n-kv-head", f->opt.kv_heads, "Override the number of key/value heads (GQA families)");
  mk->add_option("--n-embd", f->opt.hidden, "Override the hidden size");
  mk->add_option("--n-positions", f->opt.positions, "Override the position table / max_position_embeddings");
  mk->add_option("--vocab-size", f->opt.vocab, "Override vocab_size");
  mk->add_option("--config-json", f->config_json,
                 "config.json fields (HF names) merged over the preset, e.g. '{\"head_dim\": 32}' (Llama family, OPT)");
  mk->add_flag("--with-tokenizer", f->tokenizer, "Copy the vendored GPT-2 vocab.json/merges.txt (vocab 50257)");
  return {mk, [f] { return run_make_model(*f); }};
}

}  // namespace jitgen::cli
