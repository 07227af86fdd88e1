// --model: shared by generate and tokenize.
#include <iostream>

#include "commands.h"

namespace jitgen::cli {

void ModelFlag::add_to(CLI::App* cmd) {
  cmd->add_option("--model", dir, "Hugging Face model folder (default: built-in small random GPT-2)");
  cmd->add_flag("--check-weights", check_weights, "Scan every weight for NaN/Inf at load");
}

Model ModelFlag::load_model() const {
  if (dir.empty()) {
    std::cerr << "jitgen: no --model given: using the built-in GPT-2 with RANDOM weights (the text is "
                 "meaningless)\n";
    return Model::builtin_default();
  }
  return Model::from_dir(dir, check_weights);
}

Tokenizer ModelFlag::load_tokenizer() const {
  return dir.empty() ? Tokenizer::builtin_gpt2() : Tokenizer::from_dir(dir);
}

}  // namespace jitgen::cli
