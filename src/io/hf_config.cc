#include "io/hf_config.h"

#include <climits>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "jitgen/error.h"

namespace jitgen::io {
using json = nlohmann::json;

namespace {

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return s;
}

}  // namespace

std::string describe_json_error(const std::exception& e) {
  std::string what = e.what();
  // nlohmann: "[json.exception.parse_error.101] parse error at line 3, column 7: syntax error ..."
  if (auto p = what.find("] "); what.rfind("[json.exception.", 0) == 0 && p != std::string::npos)
    what = what.substr(p + 2);
  if (what.rfind("parse error at ", 0) == 0) what = what.substr(15);
  return one_line(what);
}

json read_json_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw_invalid_file(fmt::format("{}: file not found", path));
  if (std::filesystem::is_directory(path, ec)) throw_invalid_file(fmt::format("{}: is a directory, not a JSON file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_invalid_file(fmt::format("{}: cannot open for reading", path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw_invalid_file(fmt::format("{}: read error", path));
  const std::string text = ss.str();
  // nlohmann's lexer treats a NUL byte as the end of input; JSON text never contains a raw NUL.
  if (auto nul = text.find('\0'); nul != std::string::npos)
    throw_invalid_file(fmt::format("{}: malformed JSON: NUL byte at offset {}", path, nul));
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw_invalid_file(fmt::format("{}: malformed JSON at {}", path, describe_json_error(e)));
  }
}

json load_generation_defaults(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return json::object();
  json j = read_json_file(path);
  if (!j.is_object())
    throw_invalid_file(fmt::format("{}: must be a JSON object, got {}", path, j.type_name()));
  return j;
}

}  // namespace jitgen::io
