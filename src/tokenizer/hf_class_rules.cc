// transformers 5.24's per-class handling of a folder's tokenizer.json (see hf_class_rules.h, docs/tokenizers.md).
//
// Which class (transformers/models/auto/tokenization_auto.py, AutoTokenizer.from_pretrained, for a local folder
// without auto_map): resolve_hf_tokenizer_class below, step by step.
// What the class does with tokenizer.json (transformers/tokenization_utils_tokenizers.py,
// TokenizersBackend.convert_to_native_format and __init__; tokenization_utils_base.py, _from_pretrained):
//   - TokenizersBackend itself, and subclasses without their own __init__: Tokenizer.from_file, as is.
//   - a subclass with its own __init__: only model.vocab and model.merges are passed on (plus the file's
//     post_processor, padding / truncation and a Precompiled charsmap); the class builds a new model with its own
//     options, normalizer, pre-tokenizer and decoder (models/<family>/tokenization_<family>.py).
//   - either way, with a tokenizer.json present _from_pretrained drops add_bos_token / add_eos_token from
//     tokenizer_config.json (config.cc then keeps the file's post-processor), and the added tokens come from
//     tokenizer_config.json's added_tokens_decoder when it has one (the file's added_tokens otherwise; for the
//     as-is classes both, the config's added when missing).
#include "tokenizer/hf_class_rules.h"

#include <algorithm>
#include <filesystem>

#include "jitgen/error.h"

namespace jitgen::tokenizer {

using json = nlohmann::json;

namespace {

#include "tokenizer/hf_class_table.inc"

constexpr const char* kMeta = "\xE2\x96\x81";  // ▁
// Qwen2Tokenizer's PRETOKENIZE_REGEX (models/qwen2/tokenization_qwen2.py).
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::string_view strip_fast(std::string_view s) {
  if (s.ends_with("Fast")) s.remove_suffix(4);
  return s;
}

template <typename T>
bool listed(const T& table, std::string_view name) {
  return std::find(std::begin(table), std::end(table), name) != std::end(table);
}

std::string_view registered_class(std::string_view model_type) {
  for (const auto& [mt, cls] : kRegisteredClass)
    if (mt == model_type) return cls;
  return {};
}

bool generic(std::string_view cls) {
  cls = strip_fast(cls);
  return cls == "TokenizersBackend" || cls == "PythonBackend" || cls == "PreTrainedTokenizer" || cls == "MistralCommonBackend";
}

// tokenization_auto.tokenizer_class_from_name, on names: the class's name without "Fast", "" when transformers
// has no such class. Bloom's removed classes and the generic names are the backend (PreTrainedTokenizerFast is
// TokenizersBackend in transformers 5; PythonBackend is replaced by it in from_pretrained).
std::string class_from_name(std::string_view name) {
  const std::string_view base = strip_fast(name);
  if (base == "BloomTokenizer" || generic(base)) return "TokenizersBackend";
  if (listed(kRebuildingClasses, base) || listed(kAsIsClasses, base) || listed(kPythonClasses, base)) return std::string(base);
  return "";
}

bool cfg_bool(const json& cfg, const char* key, bool fallback) {
  auto it = cfg.find(key);
  return it != cfg.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// The string of a special-token argument (str(unk_token) in the classes): a string, {"content": ...}, or the
// class default when absent.
std::string token_arg(const json& cfg, const char* key, const char* fallback) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  return "None";  // str(None): what the class passes on for an explicit null
}

json byte_level(bool add_prefix_space, bool trim_offsets, bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", trim_offsets}, {"use_regex", use_regex}};
}

json replace(const std::string& from, const std::string& to) {
  return {{"type", "Replace"}, {"pattern", {{"String", from}}}, {"content", to}};
}

json metaspace(const char* scheme, bool split) {
  return {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", scheme}, {"split", split}};
}

// The file's model, checked to be the kind the class builds (it passes the vocab on to that model type).
json& file_model(json& doc, const std::string& path, const char* want, const std::string& cls) {
  json& m = doc["model"];
  const std::string type = m.is_object() && m.contains("type") && m["type"].is_string() ? m["type"].get<std::string>() : "BPE";
  if (!m.is_object() || type != want)
    throw_invalid_file(path + ": model.type is " + json(type).dump() + " (expected \"" + want + "\": tokenizer_config.json's " + cls +
                       " rebuilds a " + want + " model from the file's vocabulary in transformers 5)");
  return m;
}

// BPE(vocab, merges, ...) with the class's options; vocab and merges stay the file's.
void bpe_options(json& m, const json& unk_token, bool fuse_unk, bool byte_fallback, bool empty_affixes) {
  m["dropout"] = nullptr;
  m["unk_token"] = unk_token;
  m["continuing_subword_prefix"] = empty_affixes ? json("") : json(nullptr);
  m["end_of_word_suffix"] = empty_affixes ? json("") : json(nullptr);
  m["fuse_unk"] = fuse_unk;
  m["byte_fallback"] = byte_fallback;
  m["ignore_merges"] = false;
}

// The file's Precompiled charsmap (top level or inside a Sequence), which convert_to_native_format hands to
// T5Tokenizer as _spm_precompiled_charsmap; null when there is none.
json precompiled_of(const json& normalizer) {
  if (!normalizer.is_object()) return nullptr;
  const std::string type = normalizer.value("type", "");
  if (type == "Precompiled" && normalizer.contains("precompiled_charsmap")) return normalizer;
  if (type == "Sequence" && normalizer.contains("normalizers") && normalizer["normalizers"].is_array())
    for (const json& n : normalizer["normalizers"]) {
      json p = precompiled_of(n);
      if (!p.is_null()) return p;
    }
  return nullptr;
}

// tokenizer_config.json's added_tokens_decoder as tokenizer.json added_tokens (well-formed entries only: config.cc
// reports malformed ones by name), in id order as _from_pretrained sorts them.
json added_tokens_from_config(const json& dec) {
  std::vector<std::pair<long, json>> out;
  for (auto it = dec.begin(); it != dec.end(); ++it) {
    char* end = nullptr;
    const long id = std::strtol(it.key().c_str(), &end, 10);
    const json& e = it.value();
    if (it.key().empty() || *end != '\0' || id < 0 || id >= (1 << 24) || !e.is_object() || !e.contains("content") ||
        !e["content"].is_string() || e["content"].get<std::string>().empty())
      continue;
    const bool special = cfg_bool(e, "special", false);
    out.push_back({id, {{"id", id}, {"content", e["content"]}, {"special", special}, {"lstrip", cfg_bool(e, "lstrip", false)},
                        {"rstrip", cfg_bool(e, "rstrip", false)}, {"single_word", cfg_bool(e, "single_word", false)},
                        {"normalized", cfg_bool(e, "normalized", !special)}}});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  json arr = json::array();
  for (auto& [id, t] : out) arr.push_back(std::move(t));
  return arr;
}

// The class's named-token defaults (its __init__ signature), used where the config files do not name them.
std::vector<std::pair<std::string, std::string>> class_defaults(HfClass c) {
  switch (c) {
    case HfClass::kLlama: return {{"unk_token", "<unk>"}, {"bos_token", "<s>"}, {"eos_token", "</s>"}};
    case HfClass::kGemma:
      return {{"unk_token", "<unk>"}, {"bos_token", "<bos>"}, {"eos_token", "<eos>"}, {"pad_token", "<pad>"}, {"mask_token", "<mask>"}};
    case HfClass::kQwen2: return {{"unk_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}, {"pad_token", "<|endoftext|>"}};
    case HfClass::kGpt2: return {{"unk_token", "<|endoftext|>"}, {"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}};
    case HfClass::kGptNeoX:
      return {{"unk_token", "<|endoftext|>"}, {"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}, {"pad_token", "<|padding|>"}};
    case HfClass::kT5: return {{"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"pad_token", "<pad>"}};
    case HfClass::kAsIs: return {};
  }
  return {};
}

// Rebuilds doc's components as the class's __init__ does.
void rebuild(HfClass c, const std::string& cls, json& doc, const json& cfg, const std::string& path) {
  const json null = nullptr;
  switch (c) {
    case HfClass::kAsIs: return;
    case HfClass::kLlama: {  // models/llama/tokenization_llama.py, LlamaTokenizer.__init__
      bpe_options(file_model(doc, path, "BPE", cls), null, /*fuse_unk=*/true, /*byte_fallback=*/true, false);
      doc["normalizer"] = nullptr;
      doc["pre_tokenizer"] = llama_pre_tokenizer(cfg);
      doc["decoder"] = llama_decoder(cfg);
      return;
    }
    case HfClass::kGemma: {  // models/gemma/tokenization_gemma.py, GemmaTokenizer.__init__
      bpe_options(file_model(doc, path, "BPE", cls), token_arg(cfg, "unk_token", "<unk>"), true, true, false);
      doc["normalizer"] = replace(" ", kMeta);
      doc["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "MergedWithPrevious"}, {"invert", false}};
      doc["decoder"] = {{"type", "Sequence"}, {"decoders", json::array({replace(kMeta, " "), {{"type", "ByteFallback"}}, {{"type", "Fuse"}}})}};
      return;
    }
    case HfClass::kQwen2: {  // models/qwen2/tokenization_qwen2.py, Qwen2Tokenizer.__init__
      bpe_options(file_model(doc, path, "BPE", cls), null, false, false, true);
      doc["normalizer"] = {{"type", "NFC"}};
      json split = {{"type", "Split"}, {"pattern", {{"Regex", kQwen2Pattern}}}, {"behavior", "Isolated"}, {"invert", false}};
      doc["pre_tokenizer"] = {{"type", "Sequence"},
                              {"pretokenizers", json::array({split, byte_level(cfg_bool(cfg, "add_prefix_space", false), true, false)})}};
      doc["decoder"] = byte_level(true, true, true);  // decoders.ByteLevel()
      return;
    }
    case HfClass::kGpt2:     // models/gpt2/tokenization_gpt2.py, GPT2Tokenizer.__init__
    case HfClass::kGptNeoX:  // models/gpt_neox/tokenization_gpt_neox.py, GPTNeoXTokenizer.__init__
      bpe_options(file_model(doc, path, "BPE", cls), null, false, false, true);
      doc["normalizer"] = c == HfClass::kGptNeoX ? json{{"type", "NFC"}} : json(nullptr);
      doc["pre_tokenizer"] = byte_level(cfg_bool(cfg, "add_prefix_space", false),
                                        c == HfClass::kGptNeoX ? cfg_bool(cfg, "trim_offsets", true) : true, true);
      doc["decoder"] = byte_level(true, true, true);
      return;
    case HfClass::kT5: {  // models/t5/tokenization_t5.py, T5Tokenizer.__init__
      json& m = file_model(doc, path, "Unigram", cls);
      m["unk_id"] = 2;  // Unigram(vocab, unk_id=2, byte_fallback=False) whatever the file says
      m["byte_fallback"] = false;
      doc["normalizer"] = precompiled_of(doc["normalizer"]);
      doc["pre_tokenizer"] = t5_pre_tokenizer();
      doc["decoder"] = t5_decoder();
      return;
    }
  }
}

}  // namespace

json llama_pre_tokenizer(const json& cfg) {
  // _get_prepend_scheme (tokenization_utils_base.py): add_prefix_space (default true) -> "always", or "first"
  // when legacy is false / null / absent (LlamaTokenizer's default legacy=False); no prefix space -> "never".
  const bool prefix = cfg_bool(cfg, "add_prefix_space", true), legacy = cfg_bool(cfg, "legacy", false);
  return metaspace(!prefix ? "never" : legacy ? "always" : "first", false);
}

json llama_decoder(const json& cfg) {
  json seq = json::array({replace(kMeta, " "), {{"type", "ByteFallback"}}, {{"type", "Fuse"}}});
  if (cfg_bool(cfg, "add_prefix_space", true)) seq.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  return {{"type", "Sequence"}, {"decoders", seq}};
}

json t5_pre_tokenizer() {
  return {{"type", "Sequence"}, {"pretokenizers", json::array({{{"type", "WhitespaceSplit"}}, metaspace("always", true)})}};
}

json t5_decoder() { return metaspace("always", true); }

std::string resolve_hf_tokenizer_class(std::string_view cfg_class, std::string_view config_class, std::string_view model_type,
                                       bool file_has_byte_level) {
  const std::string_view hub = !cfg_class.empty() ? cfg_class : config_class;
  const std::string_view reg = registered_class(model_type);
  const bool incorrect = listed(kIncorrectHubClass, model_type);
  // 1. A hub class LlamaTokenizer over a byte-level tokenizer.json (Llama-3 style) loads TokenizersBackend.
  if (!hub.empty() && strip_fast(hub) == "LlamaTokenizer" && strip_fast(reg) != "MistralCommonBackend" && !incorrect &&
      file_has_byte_level)
    return "TokenizersBackend";
  // 2. config.json's model_type registers a class other than the hub's: a specific registered class wins for the
  //    MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS types, else the hub's class if it is a specific one; otherwise
  //    TokenizersBackend (which is what a generic registered class always gives).
  if (!hub.empty() && !model_type.empty() && !reg.empty() && strip_fast(reg) != strip_fast(hub)) {
    if (!generic(reg)) {
      const std::string c = class_from_name(incorrect ? reg : hub);
      if (!c.empty() && c != "TokenizersBackend") return c;
    }
    return "TokenizersBackend";
  }
  // 3. tokenizer_config.json's tokenizer_class (unknown names: TokenizersBackend).
  if (!cfg_class.empty()) {
    const std::string c = class_from_name(cfg_class);
    return c.empty() ? "TokenizersBackend" : c;
  }
  // 4. config.json's tokenizer_class, then the class registered for model_type.
  if (!config_class.empty()) {
    const std::string c = class_from_name(config_class);
    return c.empty() ? "TokenizersBackend" : c;
  }
  if (!reg.empty()) {
    const std::string c = class_from_name(reg);
    return c.empty() ? "TokenizersBackend" : c;
  }
  return "TokenizersBackend";
}

HfClass hf_class_of(const std::string& resolved, const std::string& where) {
  if (resolved == "TokenizersBackend" || listed(kAsIsClasses, resolved)) return HfClass::kAsIs;
  if (resolved == "LlamaTokenizer") return HfClass::kLlama;
  if (resolved == "GemmaTokenizer") return HfClass::kGemma;
  if (resolved == "Qwen2Tokenizer") return HfClass::kQwen2;
  if (resolved == "GPT2Tokenizer") return HfClass::kGpt2;
  if (resolved == "GPTNeoXTokenizer") return HfClass::kGptNeoX;
  if (resolved == "T5Tokenizer") return HfClass::kT5;
  const bool python = listed(kPythonClasses, resolved);
  throw_invalid_file(where + ": the folder loads as " + resolved + " in transformers 5, which " +
                     (python ? std::string("is a Python-only tokenizer") : "rebuilds the tokenizer.json pipeline in its own way") +
                     " (expected LlamaTokenizer, GemmaTokenizer, Qwen2Tokenizer, GPT2Tokenizer, GPTNeoXTokenizer, T5Tokenizer, "
                     "or TokenizersBackend / PreTrainedTokenizerFast, which use tokenizer.json as is)");
}

std::unique_ptr<Pipeline> load_tokenizer_json_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  const std::string path = (d / "tokenizer.json").string();
  const std::string cfg_path = (d / "tokenizer_config.json").string(), config_path = (d / "config.json").string();
  const std::string text = read_whole_file(path, "tokenizer.json");
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    std::string msg = e.what();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    throw_invalid_file(path + ": malformed JSON (" + msg + ")");
  }
  json cfg = fs::exists(cfg_path) ? parse_json_file(cfg_path, "tokenizer_config.json") : json::object();
  if (!cfg.is_object()) cfg = json::object();  // config.cc reports it
  json config = fs::exists(config_path) ? parse_json_file(config_path, "config.json") : json::object();
  auto str_field = [](const json& j, const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  const std::string cls = resolve_hf_tokenizer_class(str_field(cfg, "tokenizer_class"), str_field(config, "tokenizer_class"),
                                                     str_field(config, "model_type"), text.find("\"ByteLevel\"") != std::string::npos);
  const HfClass c = hf_class_of(cls, cfg_path);
  if (c != HfClass::kAsIs && doc.is_object()) {
    rebuild(c, cls, doc, cfg, path);
    // _from_pretrained takes the added tokens from added_tokens_decoder when the config has one.
    if (auto it = cfg.find("added_tokens_decoder"); it != cfg.end() && it->is_object()) doc["added_tokens"] = added_tokens_from_config(*it);
  }
  auto p = load_tokenizer_json_value(doc, path);
  p->hf_class = cls;
  const auto defaults = class_defaults(c);
  p->default_special_tokens.assign(defaults.begin(), defaults.end());
  if (c == HfClass::kT5) {
    // T5Tokenizer's extra_ids (default 100) sentinel tokens <extra_id_0> ... are special tokens; missing ones are
    // added (after the named tokens, in order).
    int64_t n = 100;
    if (auto it = cfg.find("extra_ids"); it != cfg.end()) {
      if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 100000)
        throw_invalid_file(cfg_path + ": extra_ids is " + it->dump() + " (expected an integer >= 0)");
      n = it->get<int64_t>();
    }
    for (int64_t i = 0; i < n; ++i) p->default_extra_special_tokens.push_back("<extra_id_" + std::to_string(i) + ">");
  }
  if (c != HfClass::kAsIs) p->eos_id.reset();  // the class names its eos token (its default or the config's)
  apply_config_files(dir, *p, /*add_bos_eos_from_config=*/false);
  if (c == HfClass::kT5) {
    // T5Tokenizer.__init__ ends with post_processor "$A </s>" (pair "$A </s> $B </s>"), </s> = eos_token_id.
    if (!p->eos_id) throw_invalid_file(cfg_path + ": T5Tokenizer needs an eos_token in the vocabulary (expected '</s>')");
    p->post_processor = make_bos_eos_processor(std::nullopt, p->eos_id);
  } else if (c == HfClass::kGptNeoX) {
    // GPTNeoXTokenizer.__init__ ends with update_post_processor(): add_bos_token / add_eos_token are dropped with a
    // tokenizer.json present, so the template is "$A" (nothing added).
    p->post_processor = make_bos_eos_processor(std::nullopt, std::nullopt);
  }
  return p;
}

}  // namespace jitgen::tokenizer
