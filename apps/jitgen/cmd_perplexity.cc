// jitgen perplexity: the perplexity of a model on text files with non-overlapping windows (jitgen/perplexity.h),
// the held-out perplexity definition of models/kjv-llama-5m/README.md:
//   jitgen perplexity --max-length 256 held_out.jsonl     (scripts/goldens_demo_model.py --write-held-out writes it)
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "jitgen/error.h"
#include "jitgen/perplexity.h"

namespace jitgen::cli {
namespace {

struct PerplexityFlags {
  ModelFlag model;
  std::vector<std::string> files;
  int max_length = 0;  // 0 = the model's n_positions
  std::string mode = "eager";
  bool json = false;
};

// A .jsonl file holds one document per line ({"text": ...}, as HF datasets write them); any other file is one.
std::vector<std::string> read_documents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_invalid_file(fmt::format("{}: cannot be read", path));
  std::vector<std::string> docs;
  if (path.size() < 6 || path.compare(path.size() - 6, 6, ".jsonl") != 0) {
    std::stringstream ss;
    ss << in.rdbuf();
    docs.push_back(ss.str());
    return docs;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
      throw_invalid_file(fmt::format("{} line {}: expected a JSON object with a string field \"text\"", path, n));
    docs.push_back(j["text"].get<std::string>());
  }
  return docs;
}

int run_perplexity(const PerplexityFlags& f) {
  ExecutionMode mode;
  if (f.mode == "eager") mode = ExecutionMode::kEager;
  else if (f.mode == "compiled") mode = ExecutionMode::kCompiled;
  else throw_invalid_argument(fmt::format("--mode: \"{}\" is not one of eager, compiled", f.mode));
  std::vector<std::string> docs;
  for (const std::string& path : f.files)
    for (std::string& d : read_documents(path)) docs.push_back(std::move(d));
  const Model model = f.model.load_model();
  const Tokenizer tokenizer = f.model.load_tokenizer();
  const int max_length = f.max_length ? f.max_length : model.info().n_positions;
  const std::vector<int32_t> stream =
      document_stream(tokenizer, docs, model.info().bos_token_id, model.info().eos_token_id);
  const PerplexityResult r = perplexity(model, stream, max_length, mode);
  if (f.json) {
    std::cout << nlohmann::json{{"perplexity", r.perplexity}, {"mean_nll", r.mean_nll}, {"predicted", r.predicted},
                                {"windows", r.windows}, {"documents", docs.size()}, {"tokens", stream.size()},
                                {"max_length", max_length}}
                     .dump()
              << "\n";
  } else {
    std::cout << fmt::format("perplexity {:.6f} (mean NLL {:.6f} nats) over {} predicted tokens: {} documents, {} "
                             "tokens, {} windows of up to {}\n",
                             r.perplexity, r.mean_nll, r.predicted, docs.size(), stream.size(), r.windows, max_length);
  }
  return 0;
}

}  // namespace

Subcommand register_perplexity(CLI::App& parent) {
  auto f = std::make_shared<PerplexityFlags>();
  CLI::App* cmd = parent.add_subcommand(
      "perplexity",
      "Perplexity on text: each document is <bos> + its tokens + <eos>, all concatenated and cut into "
      "non-overlapping windows of --max-length tokens; exp(mean next-token cross-entropy)");
  f->model.add_to(cmd);
  cmd->add_option("files", f->files, "Text files (each one document) or .jsonl files ({\"text\": ...} per line)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--max-length", f->max_length, "Window length in tokens (default: the model's n_positions)")
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--mode", f->mode, "eager or compiled")->capture_default_str();
  cmd->add_flag("--json", f->json, "Print one JSON object");
  return {cmd, [f] { return run_perplexity(*f); }};
}

}  // namespace jitgen::cli
