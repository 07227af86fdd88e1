#pragma once
// The jitgen CLI's subcommands. Each lives in its own cmd_<name>.cc and registers itself on the parent app;
// main.cc lists the registration functions (adding a subcommand = one declaration here + one line in main.cc).
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "jitgen/model.h"
#include "jitgen/tokenizer.h"
#include "ops/prepared_weights.h"

namespace jitgen::cli {

// What a subcommand leaves with main(): its CLI11 app (to know whether it was chosen) and the action, which
// returns the exit code and throws jitgen::Error for user errors (main prints one line, exits with its code).
struct Subcommand {
  CLI::App* app = nullptr;
  std::function<int()> run;
};
using RegisterFn = Subcommand (*)(CLI::App& parent);

Subcommand register_generate(CLI::App& parent);
Subcommand register_tokenize(CLI::App& parent);
Subcommand register_make_model(CLI::App& parent);
Subcommand register_bench(CLI::App& parent);
Subcommand register_serve(CLI::App& parent);
Subcommand register_chat(CLI::App& parent);
Subcommand register_perplexity(CLI::App& parent);

// jitgen bench --device cuda (cmd_bench_cuda.cc): presets, dtypes, batches and new-token counts are comma lists.
int run_cuda_bench(const std::string& presets, const std::string& dtypes, const std::string& batches,
                   const std::string& news, int prompt_len, int reps, const std::string& json_path);

// --model, shared by the subcommands that load one.
struct ModelFlag {
  std::string dir;  // empty = the built-in default (builtin:kjv-llama-5m); or builtin:random-gpt2
  bool check_weights = false;
  std::string quantize;           // --quantize int8|int4|... (ops/quant.h); empty: JITGEN_WEIGHTS
  bool quantize_lm_head = false;  // --quantize-lm-head
  void add_to(CLI::App* cmd);
  cpu::WeightFormat weight_format() const;  // the flags over JITGEN_WEIGHTS / JITGEN_QUANTIZE_LM_HEAD
  bool is_random_gpt2() const;       // --model builtin:random-gpt2 (in memory, no folder)
  // The model folder: --model DIR, or the built-in default's (SHA256SUMS checked); "" for builtin:random-gpt2.
  std::string folder() const;
  Model load_model() const;          // notes the built-in default on stderr when --model is not given
  Tokenizer load_tokenizer() const;  // the folder's tokenizer, or the vendored GPT-2 one
};

}  // namespace jitgen::cli
