#include "serve/completion_request.h"

#include <random>
#include <set>

#include <fmt/format.h>

#include "jitgen/error.h"

namespace jitgen::serve {

using json = nlohmann::json;

json ApiError::body() const {
  json e = {{"message", what()}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) e["param"] = param;
  if (!code.empty()) e["code"] = code;
  return {{"error", e}};
}

namespace {

ApiError bad(const std::string& param, const std::string& message) { return ApiError(400, message, param); }

const std::set<std::string> kFields = {
    // OpenAI
    "model", "prompt", "max_tokens", "temperature", "top_p", "n", "stream", "stream_options", "logprobs", "echo",
    "stop", "seed", "user", "presence_penalty", "frequency_penalty", "logit_bias", "best_of", "suffix",
    // HF generate() extensions
    "top_k", "min_p", "typical_p", "repetition_penalty", "no_repeat_ngram_size", "num_beams", "length_penalty",
    "early_stopping", "min_tokens", "ignore_eos",
    // kHfProcessorFields
    "epsilon_cutoff", "eta_cutoff", "top_h", "encoder_repetition_penalty", "sequence_bias", "suppress_tokens",
    "begin_suppress_tokens", "forced_bos_token_id", "forced_eos_token_id", "exponential_decay_length_penalty",
    "remove_invalid_values", "renormalize_logits"};

int64_t get_int(const json& body, const std::string& k, int64_t lo, int64_t hi) {
  const json& v = body.at(k);
  if (!v.is_number_integer() && !(v.is_number_float() && v.get<double>() == static_cast<int64_t>(v.get<double>())))
    throw bad(k, fmt::format("'{}' must be an integer, got {}", k, v.dump()));
  const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX ? INT64_MAX
                    : v.is_number_integer()                                 ? v.get<int64_t>()
                                                                            : static_cast<int64_t>(v.get<double>());
  if (x < lo || x > hi) throw bad(k, fmt::format("'{}' must be in [{}, {}], got {}", k, lo, hi, v.dump()));
  return x;
}

double get_num(const json& body, const std::string& k, double lo, double hi) {
  const json& v = body.at(k);
  if (!v.is_number()) throw bad(k, fmt::format("'{}' must be a number, got {}", k, v.dump()));
  const double x = v.get<double>();
  if (!(x >= lo && x <= hi)) throw bad(k, fmt::format("'{}' must be in [{}, {}], got {}", k, lo, hi, v.dump()));
  return x;
}

bool get_bool(const json& body, const std::string& k) {
  const json& v = body.at(k);
  if (!v.is_boolean()) throw bad(k, fmt::format("'{}' must be true or false, got {}", k, v.dump()));
  return v.get<bool>();
}

std::vector<int32_t> id_list(const json& v, int vocab) {
  std::vector<int32_t> ids;
  for (const json& x : v) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= vocab)
      throw bad("prompt", fmt::format("prompt token {} is not a token id in [0, {})", x.dump(), vocab));
    ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
  }
  return ids;
}

std::vector<std::vector<int32_t>> parse_prompts(const json& p, const ServedModel& m) {
  std::vector<std::vector<int32_t>> prompts;
  auto text = [&](const json& s) {
    if (s.get_ref<const std::string&>().empty()) throw bad("prompt", "prompt is empty (at least one token is needed)");
    return m.tokenizer->encode(s.get<std::string>());
  };
  if (p.is_string()) {
    prompts.push_back(text(p));
  } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
    prompts.push_back(id_list(p, m.vocab_size));
  } else if (p.is_array() && !p.empty()) {
    for (const json& x : p) {
      if (x.is_string()) prompts.push_back(text(x));
      else if (x.is_array() && !x.empty()) prompts.push_back(id_list(x, m.vocab_size));
      else throw bad("prompt", "prompt must be a string, a list of strings, a list of token ids or a list of such lists");
    }
  } else {
    throw bad("prompt", "prompt must be a non-empty string, list of strings, list of token ids or list of such lists");
  }
  for (const auto& ids : prompts)
    if (ids.empty()) throw bad("prompt", "prompt is empty (at least one token is needed)");
  return prompts;
}

}  // namespace

template <class Json>
Json parse_request_body(const std::string& text, const std::set<std::string>& known) {
  Json body;
  try {
    body = Json::parse(text);
  } catch (const typename Json::parse_error& e) {
    throw ApiError(400, fmt::format("request body is not valid JSON: {}", e.what()));
  }
  if (!body.is_object()) throw ApiError(400, "request body must be a JSON object");
  for (const auto& [k, v] : body.items())
    if (!known.count(k)) throw bad(k, fmt::format("unknown field '{}'", k));
  return body;
}
template json parse_request_body<json>(const std::string&, const std::set<std::string>&);
template nlohmann::ordered_json parse_request_body<nlohmann::ordered_json>(const std::string&,
                                                                           const std::set<std::string>&);

CompletionRequest parse_completion_request(const std::string& text, const ServedModel& m) {
  const json body = parse_request_body<json>(text, kFields);
  auto has = [&](const char* k) { return body.contains(k) && !body[k].is_null(); };

  if (has("model")) {
    if (!body["model"].is_string()) throw bad("model", "'model' must be a string");
    if (body["model"] != m.id)
      throw ApiError(404, fmt::format("The model '{}' does not exist (this server serves '{}')",
                                      body["model"].get<std::string>(), m.id),
                     "model", "invalid_request_error", "model_not_found");
  }
  if (!has("prompt")) throw bad("prompt", "'prompt' is required");

  CompletionRequest r;
  r.prompts = parse_prompts(body["prompt"], m);
  if (has("max_tokens")) r.max_tokens = static_cast<int>(get_int(body, "max_tokens", 0, m.n_positions));
  if (has("n")) r.n = static_cast<int>(get_int(body, "n", 1, m.max_n));
  if (has("stream")) r.stream = get_bool(body, "stream");
  if (has("stream_options")) {
    const json& so = body["stream_options"];
    if (!r.stream) throw bad("stream_options", "'stream_options' is only allowed when 'stream' is true");
    if (!so.is_object()) throw bad("stream_options", "'stream_options' must be an object");
    for (const auto& [k, v] : so.items())
      if (k != "include_usage") throw bad("stream_options", fmt::format("unknown field 'stream_options.{}'", k));
    if (so.contains("include_usage")) r.include_usage = get_bool(so, "include_usage");
  }
  if (has("logprobs")) r.logprobs = static_cast<int>(get_int(body, "logprobs", 0, 20));
  if (has("echo")) r.echo = get_bool(body, "echo");
  if (has("stop")) {
    const json& s = body["stop"];
    if (s.is_string()) r.stop.push_back(s.get<std::string>());
    else if (s.is_array() && s.size() <= 4)
      for (const json& x : s) {
        if (!x.is_string()) throw bad("stop", "'stop' must be a string or a list of up to 4 strings");
        r.stop.push_back(x.get<std::string>());
      }
    else throw bad("stop", "'stop' must be a string or a list of up to 4 strings");
    for (const auto& x : r.stop)
      if (x.empty()) throw bad("stop", "'stop' strings must not be empty");
  }
  for (const char* k : {"presence_penalty", "frequency_penalty"})
    if (has(k) && get_num(body, k, -2, 2) != 0)
      throw bad(k, fmt::format("'{}' is not supported (use repetition_penalty, HF's penalty)", k));
  if (has("logit_bias") && !(body["logit_bias"].is_object() && body["logit_bias"].empty()))
    throw bad("logit_bias", "'logit_bias' is not supported");
  if (has("best_of") && get_int(body, "best_of", 1, m.max_n) != r.n)
    throw bad("best_of", "'best_of' other than n is not supported (use num_beams for beam search)");
  if (has("suffix") && !(body["suffix"].is_string() && body["suffix"].get<std::string>().empty()))
    throw bad("suffix", "'suffix' is not supported");
  if (has("user") && !body["user"].is_string()) throw bad("user", "'user' must be a string");

  // The HF generation options, on top of the model's generation_config.json (its eos / pad / bos ids).
  json ov;
  ov["max_new_tokens"] = std::max(r.max_tokens, 1);
  const double temperature = has("temperature") ? get_num(body, "temperature", 0, 2) : 1.0;
  ov["do_sample"] = temperature > 0;
  ov["temperature"] = temperature > 0 ? temperature : 1.0;
  ov["top_p"] = has("top_p") ? get_num(body, "top_p", 0, 1) : 1.0;
  if (has("top_p") && ov["top_p"].get<double>() == 0) throw bad("top_p", "'top_p' must be in (0, 1], got 0");
  ov["top_k"] = has("top_k") ? get_int(body, "top_k", 0, m.vocab_size) : 0;  // OpenAI: no top-k unless asked
  if (has("min_p")) ov["min_p"] = get_num(body, "min_p", 0, 1);
  if (has("typical_p")) ov["typical_p"] = get_num(body, "typical_p", 0, 1);
  if (has("repetition_penalty")) ov["repetition_penalty"] = get_num(body, "repetition_penalty", 1e-6, 100);
  if (has("no_repeat_ngram_size")) ov["no_repeat_ngram_size"] = get_int(body, "no_repeat_ngram_size", 0, m.n_positions);
  if (has("min_tokens")) ov["min_new_tokens"] = get_int(body, "min_tokens", 0, m.n_positions);
  if (has("num_beams")) ov["num_beams"] = get_int(body, "num_beams", 1, 64);
  if (has("length_penalty")) ov["length_penalty"] = get_num(body, "length_penalty", -100, 100);
  if (has("early_stopping")) {
    const json& e = body["early_stopping"];
    if (!(e.is_boolean() || e == "never")) throw bad("early_stopping", "'early_stopping' must be true, false or \"never\"");
    ov["early_stopping"] = e;
  }
  for (const char* k : kHfProcessorFields)
    if (has(k)) ov[k] = body[k];
  if (ov.value("num_beams", 1) > 1) ov["num_return_sequences"] = r.n;
  uint64_t seed = 0;
  if (has("seed")) {
    const json& s = body["seed"];
    if (!s.is_number_integer()) throw bad("seed", fmt::format("'seed' must be an integer, got {}", s.dump()));
    seed = s.is_number_unsigned() ? s.get<uint64_t>() : static_cast<uint64_t>(s.get<int64_t>());
  } else {
    seed = (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
  }
  ov["seed"] = json::array({seed & 0xffffffffu, seed >> 32});  // one integer N < 2^32 = the CLI's --seed N
  try {
    r.config = resolve_generation_config(m.generation_defaults.is_null() ? json::object() : m.generation_defaults, ov);
  } catch (const Error& e) {
    throw bad("", e.what());
  }
  if (has("ignore_eos") && get_bool(body, "ignore_eos")) r.config.eos_token_id.clear();
  auto check_id = [&](const char* field, int32_t id) {
    if (id >= m.vocab_size)
      throw bad(field, fmt::format("'{}': token id {} is outside the vocabulary [0, {})", field, id, m.vocab_size));
  };
  for (const auto& [seq, bias] : r.config.sequence_bias)
    for (int32_t id : seq) check_id("sequence_bias", id);
  if (r.config.forced_bos_token_id) check_id("forced_bos_token_id", *r.config.forced_bos_token_id);
  for (int32_t id : r.config.forced_eos_token_id) check_id("forced_eos_token_id", id);

  if (r.beam()) {
    if (r.stream) throw bad("stream", "streaming is not supported with num_beams > 1 (as HF generate)");
    if (r.logprobs) throw bad("logprobs", "logprobs are not supported with num_beams > 1");
    if (r.max_tokens == 0) throw bad("max_tokens", "num_beams > 1 needs max_tokens >= 1");
    r.config.stop_strings = r.stop;  // beams stop on them as HF does; the text is cut as OpenAI does
  }
  for (const auto& ids : r.prompts) {
    const int64_t total = static_cast<int64_t>(ids.size()) + r.max_tokens;
    if (total > m.n_positions)
      throw bad("max_tokens", fmt::format("This model's maximum context length is {} tokens, however you requested {} "
                                          "tokens ({} in your prompt; {} for the completion). Please reduce your "
                                          "prompt or completion length.",
                                          m.n_positions, total, ids.size(), r.max_tokens));
    try {
      validate(r.config, m.n_positions, static_cast<int>(ids.size()));
    } catch (const Error& e) {
      throw bad("", e.what());
    }
  }
  return r;
}

}  // namespace jitgen::serve
