// jitgen make-model: a deterministic random-weight GPT-2 folder in HF format (tests and the oracle use it).
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "commands.h"
#include "io/hf_config.h"
#include "jitgen/error.h"
#include "models/random_gpt2.h"

namespace jitgen::cli {
namespace {

struct MakeModelFlags {
  std::string out, preset = "tiny", dtype = "F32";
  uint64_t seed = 0;
  int shards = 1, layers = 0, heads = 0, embd = 0, positions = 0, vocab = 0;
  bool tokenizer = false;
};

int run_make_model(const MakeModelFlags& f) {
  io::Gpt2Config c = gpt2_preset(f.preset);
  if (f.layers) c.n_layer = f.layers;
  if (f.heads) c.n_head = f.heads;
  if (f.embd) c.n_embd = f.embd;
  if (f.positions) c.n_positions = f.positions;
  if (f.vocab) {
    c.vocab_size = f.vocab;
    c.bos_token_id = c.eos_token_id = f.vocab - 1;
  }
  c = io::parse_gpt2_config(c.to_json(), "make-model options");  // same validation as a loaded config
  RandomModelOptions opt;
  opt.seed = f.seed;
  opt.shards = f.shards;
  if (f.dtype == "F32") opt.dtype = DType::kF32;
  else if (f.dtype == "F16") opt.dtype = DType::kF16;
  else if (f.dtype == "BF16") opt.dtype = DType::kBF16;
  else throw_invalid_argument(fmt::format("--dtype \"{}\": expected F32, F16 or BF16", f.dtype));
  if (f.tokenizer) {
    if (c.vocab_size != 50257) throw_invalid_argument("--with-tokenizer needs vocab_size 50257 (the GPT-2 vocabulary)");
    opt.tokenizer_dir = JITGEN_DEFAULT_TOKENIZER_DIR;
  }
  write_random_gpt2(c, opt, f.out);
  std::cerr << fmt::format("wrote random GPT-2 ({} layers, {} wide, vocab {}) to {}\n", c.n_layer, c.n_embd,
                           c.vocab_size, f.out);
  return 0;
}

}  // namespace

Subcommand register_make_model(CLI::App& parent) {
  auto f = std::make_shared<MakeModelFlags>();
  CLI::App* mk = parent.add_subcommand("make-model", "Write a deterministic random-weight GPT-2 folder in HF format");
  mk->add_option("--out", f->out, "Output folder")->required();
  mk->add_option("--config", f->preset, "Shape preset: tiny, gpt2, gpt2-medium, gpt2-large, gpt2-xl");
  mk->add_option("--seed", f->seed, "Weight seed");
  mk->add_option("--dtype", f->dtype, "Stored dtype: F32, F16, BF16");
  mk->add_option("--shards", f->shards, "Number of safetensors shards");
  mk->add_option("--n-layer", f->layers, "Override n_layer");
  mk->add_option("--n-head", f->heads, "Override n_head");
  mk->add_option("--n-embd", f->embd, "Override n_embd");
  mk->add_option("--n-positions", f->positions, "Override n_positions");
  mk->add_option("--vocab-size", f->vocab, "Override vocab_size");
  mk->add_flag("--with-tokenizer", f->tokenizer, "Copy the vendored GPT-2 vocab.json/merges.txt (vocab 50257)");
  return {mk, [f] { return run_make_model(*f); }};
}

}  // namespace jitgen::cli
