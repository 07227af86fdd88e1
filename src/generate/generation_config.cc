// GenerationConfig: HF generation_config.json parsing, precedence, effective lengths and validation
// (transformers 5.24.0: GenerationConfig.validate, GenerationMixin._prepare_generated_length /
// _validate_generated_length).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string_view>
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

// The HF GenerationConfig fields merge_generation_config() reads and generation implements.
const std::set<std::string, std::less<>> kImplemented = {
    "max_new_tokens", "max_length", "min_new_tokens", "min_length", "max_time", "do_sample", "num_beams",
    "num_return_sequences", "length_penalty", "early_stopping", "temperature", "top_k", "top_p", "min_p", "typical_p",
    "repetition_penalty", "no_repeat_ngram_size", "bad_words_ids", "eos_token_id", "pad_token_id", "bos_token_id",
    "stop_strings", "output_scores", "return_dict_in_generate", "sequence_bias", "encoder_repetition_penalty",
    "forced_bos_token_id", "forced_eos_token_id", "remove_invalid_values", "renormalize_logits",
    "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens", "top_h", "epsilon_cutoff",
    "eta_cutoff"};

// The HF GenerationConfig fields (transformers 5.24) jitgen accepts and ignores, each with why it cannot change the
// generated tokens, scores or sequences_scores jitgen returns.
const std::map<std::string, const char*, std::less<>> kIgnored = {
    {"transformers_version", "metadata"},
    {"_from_model_config", "metadata"},
    {"use_cache", "the KV cache changes speed, not tokens"},
    {"cache_implementation", "cache layout (validated by HF; same tokens)"},
    {"cache_config", "cache layout"},
    {"max_cache_len", "cache size"},
    {"compile_config", "torch.compile settings"},
    {"disable_compile", "torch.compile switch"},
    {"continuous_batching_config", "HF's serving scheduler"},
    {"prefill_chunk_size", "prefill chunking (same computation in pieces)"},
    {"decoder_start_token_id", "encoder-decoder models only"},
    {"diversity_penalty", "only read by group beam search (num_beam_groups > 1, refused)"},
    {"num_assistant_tokens", "only read with an assistant model (jitgen has none)"},
    {"num_assistant_tokens_schedule", "only read with an assistant model"},
    {"assistant_confidence_threshold", "only read when is_assistant is true (refused)"},
    {"assistant_lookbehind", "only read with an assistant model of another tokenizer"},
    {"target_lookbehind", "only read with an assistant model of another tokenizer"},
    {"assistant_ensemble_weight", "only read with an assistant model"},
    {"max_matching_ngram_size", "only read with prompt_lookup_num_tokens (refused)"},
    {"speculation_type", "only read with an assistant model"},
};

// The HF GenerationConfig fields jitgen does not implement, and when HF's output would then differ from jitgen's
// (a value for which HF does nothing, e.g. num_beam_groups = 1 or output_logits without return_dict_in_generate, is
// accepted). Checked by validate() on the resolved config, since the rule may depend on other fields.
struct UnimplementedRule {
  const char* reason;
  bool (*changes_output)(const GenerationConfig::Unimplemented& v, const GenerationConfig& cfg);
};
bool greedy_or_sample(const GenerationConfig& c) { return c.num_beams <= 1; }
const std::map<std::string, UnimplementedRule, std::less<>> kUnimplemented = {
    {"num_beam_groups", {"group (diverse) beam search is not implemented",
                         [](const auto& v, const auto& c) { return v.number > 1 && c.num_beams > 1; }}},
    {"penalty_alpha", {"contrastive search is not implemented",
                       [](const auto& v, const auto& c) {
                         return v.number > 0 && c.top_k > 1 && !c.do_sample && greedy_or_sample(c);
                       }}},
    {"dola_layers", {"DoLa decoding is not implemented",
                     [](const auto& v, const auto& c) { return v.truthy && greedy_or_sample(c); }}},
    {"guidance_scale", {"classifier-free guidance is not implemented",
                        [](const auto& v, const auto&) { return v.number != 1; }}},
    {"watermarking_config", {"watermarking is not implemented", [](const auto& v, const auto&) { return v.truthy; }}},
    {"constraints", {"constrained beam search is not implemented", [](const auto& v, const auto&) { return v.truthy; }}},
    {"force_words_ids", {"constrained beam search is not implemented",
                         [](const auto& v, const auto&) { return v.truthy; }}},
    {"token_healing", {"token healing is not implemented", [](const auto& v, const auto&) { return v.truthy; }}},
    {"encoder_no_repeat_ngram_size", {"it needs an encoder-decoder model (HF raises for decoder-only inputs)",
                                      [](const auto& v, const auto&) { return v.number > 0; }}},
    // Assisted decoding verifies several tokens per forward pass: the logits differ in the last bits from one token
    // per pass, and sampling consumes randomness differently, so HF's tokens are not guaranteed to be ours.
    {"prompt_lookup_num_tokens", {"prompt-lookup (assisted) decoding is not implemented",
                                  [](const auto& v, const auto& c) { return v.truthy && greedy_or_sample(c); }}},
    {"use_mtp", {"multi-token-prediction (assisted) decoding is not implemented",
                 [](const auto& v, const auto& c) { return v.truthy && greedy_or_sample(c); }}},
    {"assistant_early_exit", {"early-exit (assisted) decoding is not implemented",
                              [](const auto& v, const auto& c) { return v.truthy && greedy_or_sample(c); }}},
    {"is_assistant", {"the assistant-model confidence stopping rule is not implemented",
                      [](const auto& v, const auto&) { return v.truthy; }}},
    {"low_memory", {"HF raises for low_memory=true in beam search",
                    [](const auto& v, const auto& c) { return v.truthy && c.num_beams > 1; }}},
    {"output_logits", {"jitgen does not return raw logits",
                       [](const auto& v, const auto& c) { return v.truthy && c.return_dict_in_generate; }}},
    {"output_attentions", {"jitgen does not return attention weights",
                           [](const auto& v, const auto& c) { return v.truthy && c.return_dict_in_generate; }}},
    {"output_hidden_states", {"jitgen does not return hidden states",
                              [](const auto& v, const auto& c) { return v.truthy && c.return_dict_in_generate; }}},
};

bool python_truthy(const json& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string() || v.is_array() || v.is_object()) return !v.empty();
  return true;
}

std::vector<int32_t> get_token_ids(const Ctx& c, const std::string& k, const json& v, bool allow_single) {
  const char* what = allow_single ? "a token id or a list of token ids" : "a list of token ids";
  if (allow_single && v.is_number_integer()) {
    const int x = get_int(c, k, v);
    if (x < 0) c.fail(k, what, v);
    return {x};
  }
  if (!v.is_array()) c.fail(k, what, v);
  std::vector<int32_t> out;
  for (const auto& e : v) {
    if (!e.is_number_integer()) c.fail(k, what, v);
    const int x = get_int(c, k, e);
    if (x < 0) c.fail(k, what, v);
    out.push_back(x);
  }
  return out;
}

// HF's list form [[[ids...], bias], ...] (a dict with tuple keys cannot be spelled in JSON).
std::vector<std::pair<std::vector<int32_t>, double>> get_sequence_bias(const Ctx& c, const std::string& k,
                                                                      const json& v) {
  const char* what = "a non-empty list of [[token ids...], bias] pairs";
  if (!v.is_array() || v.empty()) c.fail(k, what, v);
  std::vector<std::pair<std::vector<int32_t>, double>> out;
  for (const auto& e : v) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_array() || e[0].empty() || !e[1].is_number()) c.fail(k, what, v);
    std::vector<int32_t> ids = get_token_ids(c, k, e[0], false);
    const double bias = e[1].get<double>();
    auto same = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == ids; });
    if (same != out.end()) same->second = bias;  // a Python dict: the later value, the first position
    else out.emplace_back(std::move(ids), bias);
  }
  return out;
}

}  // namespace

HfFieldStatus hf_field_status(std::string_view name) {
  if (kImplemented.count(name)) return HfFieldStatus::kImplemented;
  if (kIgnored.count(name)) return HfFieldStatus::kIgnored;
  if (kUnimplemented.count(name)) return HfFieldStatus::kRefused;
  return HfFieldStatus::kNotHf;
}

std::string hf_field_reason(std::string_view name) {
  if (auto i = kIgnored.find(name); i != kIgnored.end()) return i->second;
  if (auto u = kUnimplemented.find(name); u != kUnimplemented.end()) return u->second.reason;
  return {};
}

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
    } else if (k == "sequence_bias") {
      g.sequence_bias = null ? decltype(g.sequence_bias){} : get_sequence_bias(c, k, v);
    } else if (k == "encoder_repetition_penalty") {
      g.encoder_repetition_penalty = null ? 1.0 : get_num(c, k, v);
    } else if (k == "forced_bos_token_id") {
      if (!null && !(v.is_number_integer() && get_int(c, k, v) >= 0)) c.fail(k, "a token id", v);
      g.forced_bos_token_id = null ? std::nullopt : std::optional<int32_t>(get_int(c, k, v));
    } else if (k == "forced_eos_token_id") {
      g.forced_eos_token_id = null ? std::vector<int32_t>{} : get_token_ids(c, k, v, true);
      if (!null && g.forced_eos_token_id.empty()) c.fail(k, "a token id or a non-empty list of token ids", v);
    } else if (k == "remove_invalid_values") {
      g.remove_invalid_values = null ? false : get_bool(c, k, v);
    } else if (k == "renormalize_logits") {
      g.renormalize_logits = null ? false : get_bool(c, k, v);
    } else if (k == "exponential_decay_length_penalty") {
      if (null) {
        g.exponential_decay_length_penalty.reset();
      } else {
        if (!v.is_array() || v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number())
          c.fail(k, "a pair [start_index, decay_factor]", v);
        g.exponential_decay_length_penalty = std::make_pair(get_int(c, k, v[0]), v[1].get<double>());
      }
    } else if (k == "suppress_tokens") {
      g.suppress_tokens = null ? std::vector<int32_t>{} : get_token_ids(c, k, v, false);
    } else if (k == "begin_suppress_tokens") {
      g.begin_suppress_tokens = null ? std::vector<int32_t>{} : get_token_ids(c, k, v, false);
    } else if (k == "top_h") {
      g.top_h = null ? std::nullopt : std::optional<double>(get_num(c, k, v));
    } else if (k == "epsilon_cutoff") {
      g.epsilon_cutoff = null ? 0.0 : get_num(c, k, v);
    } else if (k == "eta_cutoff") {
      g.eta_cutoff = null ? 0.0 : get_num(c, k, v);
    } else if (kUnimplemented.count(k)) {
      if (null) g.unimplemented.erase(k);
      else g.unimplemented[k] = {source, v.dump(), v.is_number() ? v.get<double>() : v.is_boolean() ? v.get<bool>() : 0.0,
                                 python_truthy(v)};
    }
    // kIgnored fields, and names that are not HF GenerationConfig fields (HF stores them as attributes nothing
    // reads), do not change the output.
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
  if (!(cfg.encoder_repetition_penalty > 0))
    bad(fmt::format("encoder_repetition_penalty must be > 0 (1 = off), got {}", cfg.encoder_repetition_penalty));
  if (cfg.top_h && !(*cfg.top_h > 0 && *cfg.top_h <= 1)) bad(fmt::format("top_h must be in (0, 1], got {}", *cfg.top_h));
  if (cfg.exponential_decay_length_penalty && cfg.eos_token_id.empty())
    bad("exponential_decay_length_penalty needs an eos_token_id (it raises the EOS scores)");
  // HF GenerationConfig.validate: forcing a token that is also suppressed leaves only -inf scores.
  auto all_suppressed = [&](const std::vector<int32_t>& forced) {
    return !forced.empty() && std::all_of(forced.begin(), forced.end(), [&](int32_t t) {
      return std::find(cfg.suppress_tokens.begin(), cfg.suppress_tokens.end(), t) != cfg.suppress_tokens.end();
    });
  };
  if (cfg.forced_bos_token_id && all_suppressed({*cfg.forced_bos_token_id}))
    bad("forced_bos_token_id is also in suppress_tokens (every score would be -inf at the forcing step)");
  if (all_suppressed(cfg.forced_eos_token_id))
    bad("every token of forced_eos_token_id is also in suppress_tokens (every score would be -inf at the forcing step)");
  for (const auto& [name, v] : cfg.unimplemented) {
    const auto rule = kUnimplemented.find(name);
    if (rule == kUnimplemented.end() || !rule->second.changes_output(v, cfg)) continue;
    const std::string msg = fmt::format("{}: '{}' = {} is not supported by jitgen ({})", v.source, name, v.value,
                                        rule->second.reason);
    if (Ctx{v.source}.is_file()) throw_invalid_file(msg);
    throw_invalid_argument(msg);
  }
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
