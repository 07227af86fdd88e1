// The jitgen command line: generate | tokenize | make-model. Errors go to stderr as one line with a
// non-zero exit code (see docs/errors.md).
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/hf_config.h"
#include "jitgen/error.h"
#include "jitgen/generate.h"
#include "jitgen/model.h"
#include "jitgen/tokenizer.h"
#include "models/random_gpt2.h"

namespace {

using namespace jitgen;

struct ModelFlags {
  std::string dir;  // empty = the built-in default
};

void add_model_flag(CLI::App* cmd, ModelFlags& f) {
  cmd->add_option("--model", f.dir, "Hugging Face model folder (default: built-in small random GPT-2)");
}

Model load_model(const ModelFlags& f) {
  if (f.dir.empty()) {
    std::cerr << "jitgen: no --model given: using the built-in GPT-2 with RANDOM weights (the text is "
                 "meaningless)\n";
    return Model::builtin_default();
  }
  return Model::from_dir(f.dir);
}

Tokenizer load_tokenizer(const ModelFlags& f) {
  return f.dir.empty() ? Tokenizer::builtin_gpt2() : Tokenizer::from_dir(f.dir);
}

std::string read_stdin() {
  std::ostringstream ss;
  ss << std::cin.rdbuf();
  return ss.str();
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::string cleaned = text;
  for (char& c : cleaned)
    if (c == ',' || c == '[' || c == ']' || c == '\n' || c == '\t') c = ' ';
  std::istringstream in(cleaned);
  std::string tok;
  while (in >> tok) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(tok, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != tok.size() || v < 0 || v > INT32_MAX)
      throw_invalid_argument(fmt::format("--decode: \"{}\" is not a token id (expected non-negative integers)", tok));
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"jitgen: Hugging Face-exact text generation for GPT-2, compiled, in C++"};
  app.require_subcommand(1);

  // generate
  ModelFlags gen_model;
  std::vector<std::string> prompts;
  int max_new_tokens = 20;
  auto* gen = app.add_subcommand("generate", "Generate text from one or more prompts (a batch)");
  add_model_flag(gen, gen_model);
  gen->add_option("--max-new-tokens", max_new_tokens, "Tokens to generate per prompt")->check(CLI::NonNegativeNumber);
  gen->add_option("prompts", prompts, "Prompt texts")->required();

  // tokenize
  ModelFlags tok_model;
  std::string tok_text;
  bool tok_json = false, tok_decode = false;
  auto* tok = app.add_subcommand("tokenize", "Print the token ids of TEXT (stdin when omitted), or decode ids");
  add_model_flag(tok, tok_model);
  tok->add_option("text", tok_text, "Text to encode, or ids to decode with --decode (stdin when omitted)");
  tok->add_flag("--json", tok_json, "Print a JSON array");
  tok->add_flag("--decode", tok_decode, "Decode ids (space/comma separated or a JSON array) to text");

  // make-model
  std::string mk_out, mk_preset = "tiny", mk_dtype = "F32";
  uint64_t mk_seed = 0;
  int mk_shards = 1, mk_layers = 0, mk_heads = 0, mk_embd = 0, mk_positions = 0, mk_vocab = 0;
  bool mk_tokenizer = false;
  auto* mk = app.add_subcommand("make-model", "Write a deterministic random-weight GPT-2 folder in HF format");
  mk->add_option("--out", mk_out, "Output folder")->required();
  mk->add_option("--config", mk_preset, "Shape preset: tiny, gpt2, gpt2-medium, gpt2-large, gpt2-xl");
  mk->add_option("--seed", mk_seed, "Weight seed");
  mk->add_option("--dtype", mk_dtype, "Stored dtype: F32, F16, BF16");
  mk->add_option("--shards", mk_shards, "Number of safetensors shards");
  mk->add_option("--n-layer", mk_layers, "Override n_layer");
  mk->add_option("--n-head", mk_heads, "Override n_head");
  mk->add_option("--n-embd", mk_embd, "Override n_embd");
  mk->add_option("--n-positions", mk_positions, "Override n_positions");
  mk->add_option("--vocab-size", mk_vocab, "Override vocab_size");
  mk->add_flag("--with-tokenizer", mk_tokenizer, "Copy the vendored GPT-2 vocab.json/merges.txt (vocab 50257)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (*gen) {
      Model model = load_model(gen_model);
      Tokenizer tokenizer = load_tokenizer(gen_model);
      BatchEncodeOptions enc;
      enc.padding_side = PaddingSide::kLeft;
      enc.pad_token_id = model.info().eos_token_id;
      BatchEncoding batch = tokenizer.encode_batch(prompts, enc);
      GenerationConfig cfg;
      cfg.max_new_tokens = max_new_tokens;
      if (model.info().eos_token_id >= 0) cfg.eos_token_id = {model.info().eos_token_id};
      GenerateOutput out = generate(model, GenerateInput{batch.input_ids, batch.attention_mask}, cfg);
      for (size_t b = 0; b < out.sequences.size(); ++b) {
        std::vector<int32_t> fresh(out.sequences[b].begin() + out.prompt_length, out.sequences[b].end());
        std::cout << prompts[b] << tokenizer.decode(fresh, true) << "\n";
      }
    } else if (*tok) {
      Tokenizer tokenizer = load_tokenizer(tok_model);
      const std::string input = tok->count("text") ? tok_text : read_stdin();
      if (tok_decode) {
        std::string text = tokenizer.decode(parse_ids(input));
        std::cout << (tok_json ? nlohmann::json(text).dump() + "\n" : text);
      } else {
        std::vector<int32_t> ids = tokenizer.encode(input);
        if (tok_json)
          std::cout << nlohmann::json(ids).dump() << "\n";
        else
          std::cout << fmt::format("{}\n", fmt::join(ids, " "));
      }
    } else if (*mk) {
      io::Gpt2Config c = gpt2_preset(mk_preset);
      if (mk_layers) c.n_layer = mk_layers;
      if (mk_heads) c.n_head = mk_heads;
      if (mk_embd) c.n_embd = mk_embd;
      if (mk_positions) c.n_positions = mk_positions;
      if (mk_vocab) {
        c.vocab_size = mk_vocab;
        c.bos_token_id = c.eos_token_id = mk_vocab - 1;
      }
      c = io::parse_gpt2_config(c.to_json(), "make-model options");  // same validation as a loaded config
      RandomModelOptions opt;
      opt.seed = mk_seed;
      opt.shards = mk_shards;
      if (mk_dtype == "F32") opt.dtype = DType::kF32;
      else if (mk_dtype == "F16") opt.dtype = DType::kF16;
      else if (mk_dtype == "BF16") opt.dtype = DType::kBF16;
      else throw_invalid_argument(fmt::format("--dtype \"{}\": expected F32, F16 or BF16", mk_dtype));
      if (mk_tokenizer) {
        if (c.vocab_size != 50257)
          throw_invalid_argument("--with-tokenizer needs vocab_size 50257 (the GPT-2 vocabulary)");
        opt.tokenizer_dir = JITGEN_DEFAULT_TOKENIZER_DIR;
      }
      write_random_gpt2(c, opt, mk_out);
      std::cerr << fmt::format("wrote random GPT-2 ({} layers, {} wide, vocab {}) to {}\n", c.n_layer, c.n_embd,
                               c.vocab_size, mk_out);
    }
  } catch (const Error& e) {
    std::cerr << "jitgen: error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "jitgen: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
