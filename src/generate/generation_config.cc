// GenerationConfig: HF generation_config.json parsing, precedence, effective lengths and validation
// (transformers 5.24.0: GenerationConfig.validate, GenerationMixin._prepare_generated_length /
// _validate_generated_length).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "jitgen/error.h"
#include "jitgen/generation_config.h"

namespace jitgen {
namespace {

using nlohmann::json;

struct Ctx {
  const std::string& source;
  bool is_file() const { return source.size() >= 5 && source.compare(source.size() - 5, 5, ".json") == 0; }
  [[noreturn]] void fail(const std::string& field, const std::string& expected, const json& got) const {
    const std::string msg = fmt::format("{}: field '{}' must be {}, got {}", source, field, expected, got.dump());
    if (is_file()) throw_invalid_file(msg);
    throw_invalid_argument(msg);
  }
};

int get_int(const Ctx& c, const std::string& k, const json& v) {
  if (!v.is_number_integer()) c.fail(k, "an integer", v);
  // Unsigned JSON numbers above INT64_MAX would wrap to negative in get<int64_t>() (2^64-1 read as -1).
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT32_MAX)) c.fail(k, "a 32-bit integer", v);
  const auto x = v.get<int64_t>();
  if (x < INT32_MIN || x > INT32_MAX) c.fail(k, "a 32-bit integer", v);
  return static_cast<int>(x);
}
double get_num(const Ctx& c, const std::string& k, const json& v) {
  if (!v.is_number()) c.fail(k, "a number", v);
  return v.get<double>();
}
bool get_bool(const Ctx& c, const std::string& k, const json& v) {
  if (!v.is_boolean()) c.fail(k, "true or false", v);
  return v.get<bool>();
}
std::vector<int32_t> get_id_list(const Ctx& c, const std::string& k, const json& v) {
  if (v.is_number_integer()) return {get_int(c, k, v)};
  if (!v.is_array()) c.fail(k, "an integer or a list of integers", v);
  std::vector<int32_t> out;
  for (const auto& e : v) {
    if (!e.is_number_integer()) c.fail(k, "an integer or a list of integers", v);
    out.push_back(get_int(c, k, e));
  }
  return out;
}

}  // namespace

DecodingMode decoding_mode(const GenerationConfig& cfg) {
  const bool sample = cfg.do_sample && cfg.temperature != 0.0;
  if (cfg.num_beams > 1) return sample ? DecodingMode::kBeamSample : DecodingMode::kBeam;
  return sample ? DecodingMode::kSample : DecodingMode::kGreedy;
}

GenerationConfig merge_generation_config(const json& j, const GenerationConfig& base, const std::string& source) {
  const Ctx c{source};
  if (!j.is_object()) c.fail("<root>", "a JSON object", j);
  GenerationConfig g = base;
  const GenerationConfig d;  // HF defaults (null resets to these)
  for (const auto& [k, v] : j.items()) {
    const bool null = v.is_null();
    if (k == "max_new_tokens") {
      g.max_new_tokens = null ? std::nullopt : std::optional<int>(get_int(c, k, v));
    } else if (k == "max_length") {
      g.max_length = null ? d.max_length : get_int(c, k, v);
      g.max_length_set = !null;
    } else if (k == "min_new_tokens") {
      g.min_new_tokens = null ? 0 : get_int(c, k, v);
    } else if (k == "min_length") {
      g.min_length = null ? 0 : get_int(c, k, v);
    } else if (k == "max_time") {
      g.max_time = null ? std::nullopt : std::optional<double>(get_num(c, k, v));
    } else if (k == "do_sample") {
      g.do_sample = null ? d.do_sample : get_bool(c, k, v);
    } else if (k == "num_beams") {
      g.num_beams = null ? 1 : get_int(c, k, v);
    } else if (k == "num_return_sequences") {
      g.num_return_sequences = null ? 1 : get_int(c, k, v);
    } else if (k == "length_penalty") {
      g.length_penalty = null ? 1.0 : get_num(c, k, v);
    } else if (k == "early_stopping") {
      if (null) g.early_stopping = EarlyStopping::kFalse;
      else if (v.is_boolean()) g.early_stopping = v.get<bool>() ? EarlyStopping::kTrue : EarlyStopping::kFalse;
      else if (v.is_string() && v.get<std::string>() == "never") g.early_stopping = EarlyStopping::kNever;
      else c.fail(k, "true, false or \"never\"", v);
    } else if (k == "temperature") {
      g.temperature = null ? 1.0 : get_num(c, k, v);
    } else if (k == "top_k") {
      g.top_k = null ? 50 : get_int(c, k, v);
    } else if (k == "top_p") {
      g.top_p = null ? 1.0 : get_num(c, k, v);
    } else if (k == "min_p") {
      g.min_p = null ? std::nullopt : std::optional<double>(get_num(c, k, v));
    } else if (k == "typical_p") {
      g.typical_p = null ? 1.0 : get_num(c, k, v);
    } else if (k == "repetition_penalty") {
      g.repetition_penalty = null ? 1.0 : get_num(c, k, v);
    } else if (k == "no_repeat_ngram_size") {
      g.no_repeat_ngram_size = null ? 0 : get_int(c, k, v);
    } else if (k == "bad_words_ids") {
      g.bad_words_ids.clear();
      if (!null) {
        if (!v.is_array() || v.empty()) c.fail(k, "a non-empty list of lists of token ids", v);
        for (const auto& seq : v) {
          if (!seq.is_array() || seq.empty()) c.fail(k, "a non-empty list of non-empty lists of token ids", v);
          std::vector<int32_t> ids;
          for (const auto& e : seq) {
            if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() > INT32_MAX)
              c.fail(k, "lists of non-negative token ids", v);
            ids.push_back(static_cast<int32_t>(e.get<int64_t>()));
          }
          g.bad_words_ids.push_back(std::move(ids));
        }
      }
    } else if (k == "eos_token_id") {
      g.eos_token_id = null ? std::vector<int32_t>{} : get_id_list(c, k, v);
    } else if (k == "pad_token_id") {
      g.pad_token_id = null ? std::nullopt : std::optional<int32_t>(get_int(c, k, v));
    } else if (k == "bos_token_id") {
      g.bos_token_id = null ? std::nullopt : std::optional<int32_t>(get_int(c, k, v));
    } else if (k == "stop_strings") {
      g.stop_strings.clear();
      if (null) continue;
      if (v.is_string()) {
        g.stop_strings.push_back(v.get<std::string>());
      } else if (v.is_array()) {
        for (const auto& e : v) {
          if (!e.is_string()) c.fail(k, "a string or a list of strings", v);
          g.stop_strings.push_back(e.get<std::string>());
        }
      } else {
        c.fail(k, "a string or a list of strings", v);
      }
    } else if (k == "seed") {
      if (v.is_number_unsigned()) {
        const uint64_t s = v.get<uint64_t>();
        g.seed[0] = static_cast<uint32_t>(s & 0xffffffffu);
        g.seed[1] = static_cast<uint32_t>(s >> 32);
      } else if (v.is_array() && v.size() == 2 && v[0].is_number_unsigned() && v[1].is_number_unsigned() &&
                 v[0].get<uint64_t>() <= UINT32_MAX && v[1].get<uint64_t>() <= UINT32_MAX) {
        g.seed[0] = v[0].get<uint32_t>();
        g.seed[1] = v[1].get<uint32_t>();
      } else {
        c.fail(k, "a non-negative integer or a pair [a, b] of 32-bit words", v);
      }
    } else if (k == "output_scores") {
      g.output_scores = null ? false : get_bool(c, k, v);
    } else if (k == "return_dict_in_generate") {
      g.return_dict_in_generate = null ? false : get_bool(c, k, v);
    }
    // Every other HF field (transformers_version, use_cache, _from_model_config, ...) does not change our output.
  }
  return g;
}

GenerationConfig resolve_generation_config(const json& model_generation_config, const json& overrides) {
  GenerationConfig g = merge_generation_config(model_generation_config, GenerationConfig{}, "generation_config.json");
  if (!overrides.is_null()) g = merge_generation_config(overrides, g, "generation option");
  return g;
}

int effective_max_length(const GenerationConfig& cfg, int prompt_len, int n_positions) {
  // In 64 bits, saturated at INT32_MAX: max_new_tokens = 2^31 - 1 must give the kLimit error, not overflow.
  auto sum = [](int64_t a, int64_t b) { return static_cast<int>(std::min<int64_t>(a + b, INT32_MAX)); };
  if (cfg.max_new_tokens) return sum(prompt_len, *cfg.max_new_tokens);
  if (cfg.max_length_set) return cfg.max_length;
  return std::min(sum(cfg.max_length, prompt_len), n_positions);  // HF: "by default generate 20 new tokens"
}

int effective_max_new_tokens(const GenerationConfig& cfg, int prompt_len, int n_positions) {
  return effective_max_length(cfg, prompt_len, n_positions) - prompt_len;
}

std::optional<int32_t> resolved_pad_token_id(const GenerationConfig& cfg) {
  if (cfg.pad_token_id) return cfg.pad_token_id;
  if (!cfg.eos_token_id.empty()) return cfg.eos_token_id[0];
  return std::nullopt;
}

void validate(const GenerationConfig& cfg, int n_positions, int prompt_len) {
  auto bad = [](const std::string& m) { throw_invalid_argument(m); };
  if (cfg.max_new_tokens && *cfg.max_new_tokens <= 0)
    bad(fmt::format("max_new_tokens must be greater than 0, got {}", *cfg.max_new_tokens));
  if (cfg.max_length_set && cfg.max_length <= 0) bad(fmt::format("max_length must be positive, got {}", cfg.max_length));
  if (cfg.min_length < 0) bad(fmt::format("min_length must be >= 0, got {}", cfg.min_length));
  if (cfg.min_new_tokens < 0) bad(fmt::format("min_new_tokens must be >= 0, got {}", cfg.min_new_tokens));
  if (cfg.max_time && !(*cfg.max_time > 0)) bad(fmt::format("max_time must be > 0 seconds, got {}", *cfg.max_time));
  if (cfg.num_beams < 1) bad(fmt::format("num_beams must be >= 1, got {}", cfg.num_beams));
  if (cfg.num_return_sequences < 1)
    bad(fmt::format("num_return_sequences must be >= 1, got {}", cfg.num_return_sequences));
  if (!(cfg.temperature >= 0) || !std::isfinite(cfg.temperature))
    bad(fmt::format("temperature must be >= 0 (0 = greedy), got {}", cfg.temperature));
  if (cfg.top_k < 0) bad(fmt::format("top_k must be >= 0 (0 = off), got {}", cfg.top_k));
  if (!(cfg.top_p > 0 && cfg.top_p <= 1)) bad(fmt::format("top_p must be in (0, 1], got {}", cfg.top_p));
  if (cfg.min_p && !(*cfg.min_p >= 0 && *cfg.min_p <= 1)) bad(fmt::format("min_p must be in [0, 1], got {}", *cfg.min_p));
  if (!(cfg.typical_p > 0 && cfg.typical_p <= 1)) bad(fmt::format("typical_p must be in (0, 1], got {}", cfg.typical_p));
  if (!(cfg.repetition_penalty > 0))
    bad(fmt::format("repetition_penalty must be > 0 (1 = off), got {}", cfg.repetition_penalty));
  if (cfg.no_repeat_ngram_size < 0)
    bad(fmt::format("no_repeat_ngram_size must be >= 0, got {}", cfg.no_repeat_ngram_size));
  if (!std::isfinite(cfg.length_penalty)) bad(fmt::format("length_penalty must be finite, got {}", cfg.length_penalty));
  for (const auto& s : cfg.stop_strings)
    if (s.empty()) bad("stop_strings must not contain an empty string");
  for (const auto& seq : cfg.bad_words_ids)
    if (seq.empty()) bad("bad_words_ids must not contain an empty list");
  if (cfg.pad_token_id && *cfg.pad_token_id < 0) bad(fmt::format("pad_token_id must be >= 0, got {}", *cfg.pad_token_id));
  const DecodingMode mode = decoding_mode(cfg);
  if (cfg.num_return_sequences > 1 && mode == DecodingMode::kGreedy)
    bad(fmt::format("num_return_sequences={} needs do_sample=true or num_beams > 1 (greedy search returns one "
                    "sequence per prompt)", cfg.num_return_sequences));
  if (cfg.num_beams > 1 && cfg.num_return_sequences > cfg.num_beams)
    bad(fmt::format("num_return_sequences ({}) must be <= num_beams ({})", cfg.num_return_sequences, cfg.num_beams));
  if (prompt_len < 1) bad(fmt::format("the prompt must have at least one token, got {}", prompt_len));
  const int max_len = effective_max_length(cfg, prompt_len, n_positions);
  if (prompt_len >= max_len)
    bad(fmt::format("input length is {} but max_length is {}: nothing to generate (raise max_new_tokens)", prompt_len,
                    max_len));
  if (max_len > n_positions)
    throw_limit(fmt::format("prompt ({} tokens) + new tokens ({}) = {} exceeds the model's n_positions ({})", prompt_len,
                            max_len - prompt_len, max_len, n_positions));
}

}  // namespace jitgen
