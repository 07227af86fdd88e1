#pragma once
// Internal to generate(): the request after validation, shared by the greedy/sampling loop (generator.cc) and the
// beam loop (beam_loop.cc). Dimension legend: B = prompts, R = rows run by the model, T = padded prompt length,
// V = vocabulary size, L = max_length (prompt + new tokens).
#include <cstdint>
#include <optional>
#include <vector>

#include "generate/stopping.h"
#include "jitgen/generate.h"

namespace jitgen::decoding {

struct Request {
  int B = 0, T = 0, V = 0;
  int max_length = 0;                          // L
  std::vector<std::vector<int32_t>> ids;       // [B][T]
  std::vector<std::vector<int32_t>> mask;      // [B][T]
  std::vector<int> leading_pads;               // [B] leading zeros of each prompt mask
  std::optional<int32_t> pad;                  // HF: pad_token_id, else eos[0]
  std::optional<StopStringMatcher> stop;       // stop_strings, when any
};


// The rows the model runs: prompt b repeated `per_prompt` times, row r = b * per_prompt + j (HF
// _expand_inputs_for_generation), with each row's mask, HF position ids, next position and leading pads.
struct ExpandedRows {
  std::vector<std::vector<int32_t>> ids, mask, pos;  // [R][T]
  std::vector<int32_t> next_pos, lead;               // [R]
};
ExpandedRows expand_rows(const Request& req, int per_prompt);

GenerateOutput beam_loop(const Model& model, const Request& req, const GenerationConfig& cfg,
                         const GenerateOptions& options);

}  // namespace jitgen::decoding
