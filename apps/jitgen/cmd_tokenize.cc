// jitgen tokenize: text -> ids (stdin read byte for byte when no text is given), or ids -> text with --decode.
#include <climits>
#include <iostream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "jitgen/error.h"

namespace jitgen::cli {
namespace {

std::string read_stdin() {
  std::ostringstream ss;
  ss << std::cin.rdbuf();
  return ss.str();
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::string cleaned = text;
  for (char& c : cleaned)
    if (c == ',' || c == '[' || c == ']' || c == '\n' || c == '\t' || c == '\r') c = ' ';
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

struct TokenizeFlags {
  ModelFlag model;
  std::string text;
  bool json = false, decode = false;
};

}  // namespace

Subcommand register_tokenize(CLI::App& parent) {
  auto f = std::make_shared<TokenizeFlags>();
  CLI::App* cmd = parent.add_subcommand("tokenize", "Print the token ids of TEXT (stdin when omitted), or decode ids");
  f->model.add_to(cmd);
  cmd->add_option("text", f->text, "Text to encode, or ids to decode with --decode (stdin when omitted)");
  cmd->add_flag("--json", f->json, "Print a JSON array (encode) or a JSON string (decode)");
  cmd->add_flag("--decode", f->decode, "Decode ids (space/comma separated or a JSON array) to text");
  return {cmd, [f, cmd] {
            Tokenizer tokenizer = f->model.load_tokenizer();
            const std::string input = cmd->count("text") ? f->text : read_stdin();
            if (f->decode) {
              std::string text = tokenizer.decode(parse_ids(input));
              std::cout << (f->json ? nlohmann::json(text).dump() + "\n" : text);
            } else {
              std::vector<int32_t> ids = tokenizer.encode(input);
              if (f->json)
                std::cout << nlohmann::json(ids).dump() << "\n";
              else
                std::cout << fmt::format("{}\n", fmt::join(ids, " "));
            }
            return 0;
          }};
}

}  // namespace jitgen::cli
