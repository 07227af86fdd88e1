#pragma once
// POST /v1/completions: the OpenAI request body, checked field by field and turned into what the scheduler
// runs. OpenAI's names and defaults (max_tokens 16, temperature 1, top_p 1, n 1, stop cut from the text), plus
// HF generate() options under their HF names (top_k, min_p, typical_p, repetition_penalty,
// no_repeat_ngram_size, num_beams, length_penalty, early_stopping, min_tokens, ignore_eos, and the
// kHfProcessorFields below). Every problem is an ApiError naming the field, with the HTTP status OpenAI would send.
#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jitgen/generation_config.h"
#include "jitgen/tokenizer.h"

namespace jitgen::serve {

// HF GenerationConfig fields a request may set as they are (HF's JSON form; merge_generation_config checks them).
inline constexpr const char* kHfProcessorFields[] = {
    "epsilon_cutoff", "eta_cutoff", "top_h", "encoder_repetition_penalty", "sequence_bias", "suppress_tokens",
    "begin_suppress_tokens", "forced_bos_token_id", "forced_eos_token_id", "exponential_decay_length_penalty",
    "remove_invalid_values", "renormalize_logits"};

struct ApiError : std::runtime_error {
  ApiError(int status, std::string message, std::string param = "", std::string type = "invalid_request_error",
           std::string code = "")
      : std::runtime_error(std::move(message)),
        status(status),
        param(std::move(param)),
        type(std::move(type)),
        code(std::move(code)) {}
  int status;
  std::string param, type, code;
  nlohmann::json body() const;  // {"error": {"message", "type", "param", "code"}}
};

// What a request is checked against.
struct ServedModel {
  std::string id;                     // the name /v1/models lists
  int n_positions = 0, vocab_size = 0;
  nlohmann::json generation_defaults;  // the model's generation_config.json (eos, pad, bos)
  const Tokenizer* tokenizer = nullptr;
  int max_n = 64;                      // most choices per prompt
};

struct CompletionRequest {
  std::vector<std::vector<int32_t>> prompts;  // token ids, one list per prompt
  int max_tokens = 16;
  int n = 1;
  bool stream = false, include_usage = false;
  std::optional<int> logprobs;  // top alternatives per token (0 = only the chosen token's)
  bool echo = false;
  std::vector<std::string> stop;  // OpenAI stop sequences: generation ends there, the text excludes them
  GenerationConfig config;        // HF semantics: sampling, processors, beams, eos
  // /v1/completions: the text continues the prompt's, so it is decoded in the prompt's context (a SentencePiece
  // decoder keeps the space of the first new token: prompt + text = decode(prompt + new ids), as vLLM answers).
  // Chat replies are HF's decode of the new tokens alone (false).
  bool continue_prompt_text = false;
  bool beam() const { return config.num_beams > 1; }
};

CompletionRequest parse_completion_request(const std::string& body, const ServedModel& model);

// A request body as a JSON object, shared by the routes. Json = nlohmann::ordered_json keeps the keys in the order
// they were sent, as Python's json.loads does (the chat route needs it: templates print tools and tool-call
// arguments with tojson in that order). ApiError 400 for malformed JSON, a body that is not an object, or a field
// not in `known` (the error names it).
template <class Json>
Json parse_request_body(const std::string& body, const std::set<std::string>& known);

}  // namespace jitgen::serve
