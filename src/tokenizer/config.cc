// tokenizer_config.json, special_tokens_map.json and chat_template.jinja, applied as transformers 5's
// TokenizersBackend does: named special tokens (bos/eos/unk/sep/pad/cls/mask), extra special tokens and
// added_tokens_decoder entries missing from the tokenizer become special added tokens; add_bos_token /
// add_eos_token, when present (and no tokenizer.json: _from_pretrained drops them otherwise), replace the
// post-processor by "[bos] $A [eos]"; clean_up_tokenization_spaces, model_max_length and chat_template are kept
// for callers.
#include <filesystem>

#include "jitgen/error.h"
#include "tokenizer/pipeline.h"

namespace jitgen::tokenizer {

using json = nlohmann::json;

namespace {

// SPECIAL_TOKENS_ATTRIBUTES order (tokenization_utils_base.py): tokens missing from the vocabulary get ids in this order.
constexpr const char* kNamed[] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};

// A special token value: "<s>" or {"content": "<s>", ...} (AddedToken form); nullopt for null / absent.
std::optional<AddedToken> token_of(const std::optional<Node>& n) {
  if (!n) return std::nullopt;
  AddedToken t;
  t.special = true;
  if (n->json().is_string()) {
    t.content = n->json().get<std::string>();
  } else if (n->json().is_object()) {
    t.content = n->req_str("content");
    t.lstrip = n->flag("lstrip", false);
    t.rstrip = n->flag("rstrip", false);
    t.single_word = n->flag("single_word", false);
    t.normalized = n->flag("normalized", false);
  } else {
    n->fail("a string, an object with \"content\", or null");
  }
  if (t.content.empty()) return std::nullopt;
  return t;
}

std::optional<AddedToken> token_value(const Node& parent, const char* key) { return token_of(parent.get(key)); }

}  // namespace

void apply_config_files(const std::string& dir, Pipeline& p, bool add_bos_eos_from_config) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  const std::string cfg_path = (d / "tokenizer_config.json").string();
  const std::string map_path = (d / "special_tokens_map.json").string();
  json cfg = fs::exists(cfg_path) ? parse_json_file(cfg_path, "tokenizer_config.json") : json::object();
  json map = fs::exists(map_path) ? parse_json_file(map_path, "special_tokens_map.json") : json::object();
  if (!cfg.is_object()) Node(cfg, cfg_path, "top-level value").fail("an object");
  if (!map.is_object()) Node(map, map_path, "top-level value").fail("an object");
  Node c(cfg, cfg_path, "tokenizer_config"), m(map, map_path, "special_tokens_map");

  if (auto dec = c.get("added_tokens_decoder")) {
    dec->require_object("an object of id -> added token");
    for (auto it = dec->json().begin(); it != dec->json().end(); ++it) {
      Node e(it.value(), cfg_path, dec->where() + "." + it.key());
      char* end = nullptr;
      long id = std::strtol(it.key().c_str(), &end, 10);
      if (it.key().empty() || *end != '\0' || id < 0 || id >= (1 << 24)) e.fail_msg("has a key that is not a token id (expected \"<id>\": {...})");
      AddedToken t;
      e.require_object("an object with \"content\"");
      t.content = e.req_str("content");
      t.special = e.flag("special", false);
      t.lstrip = e.flag("lstrip", false);
      t.rstrip = e.flag("rstrip", false);
      t.single_word = e.flag("single_word", false);
      t.normalized = e.flag("normalized", !t.special);
      bool present = false;
      for (const AddedToken& a : p.added) present |= a.content == t.content;
      if (present || t.content.empty()) continue;
      if (auto v = p.model_vocab.find(t.content); v != p.model_vocab.end() && v->second != id)
        e.fail_msg("gives '" + t.content + "' id " + std::to_string(id) + " but the vocabulary has " + std::to_string(v->second) +
                   " (expected the same id)");
      t.id = static_cast<int32_t>(id);
      p.added.push_back(std::move(t));
    }
    p.finish();
  }

  bool changed = false;
  for (const char* key : kNamed) {
    std::optional<AddedToken> t = token_value(c, key);
    if (!t) t = token_value(m, key);
    if (!t && !cfg.contains(key) && !map.contains(key)) {  // absent (not null): the tokenizer class's default, if any
      for (const auto& [k, v] : p.default_special_tokens)
        if (k == key) t = AddedToken{.content = v, .special = true};
    }
    if (!t) continue;
    p.special_tokens[key] = t->content;
    bool present = false;
    for (const AddedToken& a : p.added) present |= a.content == t->content;
    if (!present) {
      p.add_token(*t);
      changed = true;
    }
  }
  // Extra special tokens (transformers 5's extra_special_tokens; additional_special_tokens before it): a list of
  // tokens, or a dict of model-specific named tokens; the class's own (T5's <extra_id_N>) come after them.
  std::vector<AddedToken> extras;
  for (const Node* src : {&c, &m}) {
    std::optional<Node> list = src->get("extra_special_tokens");
    if (!list || (list->json().is_array() && list->json().empty())) list = src->get("additional_special_tokens");
    if (!list) continue;
    if (list->json().is_object()) {
      for (auto it = list->json().begin(); it != list->json().end(); ++it)
        if (auto t = token_value(*list, it.key().c_str())) extras.push_back(*t);
    } else {
      list->require_array("a list of tokens");
      for (size_t i = 0; i < list->json().size(); ++i) {
        if (auto t = token_of(list->index(i))) extras.push_back(*t);
      }
    }
    break;  // tokenizer_config.json's list wins over special_tokens_map.json's
  }
  for (const std::string& s : p.default_extra_special_tokens) extras.push_back(AddedToken{.content = s, .special = true});
  for (AddedToken& t : extras) {
    bool present = false;
    for (const AddedToken& a : p.added) present |= a.content == t.content;
    if (!present) {
      p.add_token(std::move(t));
      changed = true;
    }
  }
  if (changed) p.finish();

  auto id_of = [&](const char* key) -> std::optional<int32_t> {
    auto it = p.special_tokens.find(key);
    if (it == p.special_tokens.end()) return std::nullopt;
    auto v = p.token_to_id.find(it->second);
    if (v == p.token_to_id.end()) return std::nullopt;
    return v->second;
  };
  if (p.special_tokens.count("eos_token")) p.eos_id = id_of("eos_token");
  p.bos_id = id_of("bos_token");
  p.unk_id = id_of("unk_token");
  if (auto pad = id_of("pad_token")) p.pad_id = pad;

  // transformers' _from_pretrained drops add_bos_token / add_eos_token when a tokenizer.json is present (its
  // post-processor stays); for tokenizer.model and vocab.json folders they set "[bos] $A [eos]".
  if (add_bos_eos_from_config && (c.get("add_bos_token") || c.get("add_eos_token"))) {
    bool add_bos = c.flag("add_bos_token", false) && p.bos_id;
    bool add_eos = c.flag("add_eos_token", false) && p.eos_id;
    p.post_processor = make_bos_eos_processor(add_bos ? p.bos_id : std::nullopt, add_eos ? p.eos_id : std::nullopt);
  }
  p.clean_up_tokenization_spaces = c.flag("clean_up_tokenization_spaces", false);
  if (auto mml = c.get("model_max_length")) {
    if (!mml->json().is_number()) mml->fail("a number");
    double v = mml->json().get<double>();
    // transformers writes int(1e30) for "no limit".
    if (v >= 1 && v < 9.2e18) p.model_max_length = static_cast<int64_t>(v);
  }
  const std::string jinja = (d / "chat_template.jinja").string();
  if (fs::exists(jinja)) {
    p.chat_template = read_whole_file(jinja, "chat_template.jinja");
  } else if (auto ct = c.get("chat_template")) {
    if (ct->json().is_string()) {
      p.chat_template = ct->json().get<std::string>();
    } else if (ct->json().is_array()) {
      // Named templates: [{"name": "default", "template": "..."}, ...]; the default one is the chat template.
      for (size_t i = 0; i < ct->json().size(); ++i) {
        Node e = ct->index(i);
        if (e.str("name", "") == "default") p.chat_template = e.req_str("template");
      }
    } else {
      ct->fail("a string or a list of {\"name\", \"template\"}");
    }
  }
}

}  // namespace jitgen::tokenizer
