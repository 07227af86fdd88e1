#pragma once
// Hugging Face config.json (model hyper-parameters) and generation_config.json (generation defaults).
// Every field is type-checked; errors name the file, the field and what was expected.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace jitgen::io {

// Reads and parses a JSON file; throws kInvalidFile "<path>: ..." when missing or malformed.
nlohmann::json read_json_file(const std::string& path);

// One-line description of a nlohmann::json exception: "line L, column C: <what>" for parse errors.
std::string describe_json_error(const std::exception& e);

// generation_config.json: kept as the raw JSON object, validated to be an object; the generation layer
// maps HF option names onto GenerationConfig. Missing file => empty object.
nlohmann::json load_generation_defaults(const std::string& path);

}  // namespace jitgen::io
