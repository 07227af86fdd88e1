#include "chat/chat_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "jitgen/error.h"

namespace jitgen::chat {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

std::optional<std::string> read_text(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  std::ifstream f(p, std::ios::binary);
  if (!f) throw_invalid_file(p.string() + ": cannot be read");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::optional<ojson> read_json(const fs::path& p) {
  auto text = read_text(p);
  if (!text) return std::nullopt;
  try {
    ojson j = ojson::parse(*text);
    if (!j.is_object()) throw_invalid_file(p.string() + ": must be a JSON object, got " + std::string(j.type_name()));
    return j;
  } catch (const ojson::parse_error& e) {
    throw_invalid_file(p.string() + ": malformed JSON: " + e.what());
  }
}

// The special-token attributes transformers' special_tokens_map holds (SPECIAL_TOKENS_ATTRIBUTES).
const char* const kSpecial[] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                                "mask_token"};

void take_special(const ojson& j, ojson& out) {
  for (const char* k : kSpecial) {
    if (!j.contains(k)) continue;
    const ojson& v = j[k];
    if (v.is_string()) out[k] = v;
    else if (v.is_object() && v.contains("content") && v["content"].is_string()) out[k] = v["content"];
    else if (v.is_null()) out.erase(k);
  }
}

}  // namespace

ChatConfig load_chat_config(const std::string& model_dir) {
  ChatConfig c;
  if (model_dir.empty()) return c;
  const fs::path dir(model_dir);
  const fs::path cfg_path = dir / "tokenizer_config.json";
  std::optional<ojson> cfg = read_json(cfg_path);
  if (cfg) take_special(*cfg, c.special_tokens);
  if (auto map = read_json(dir / "special_tokens_map.json")) take_special(*map, c.special_tokens);

  if (auto jinja = read_text(dir / "chat_template.jinja")) {
    c.chat_template = *jinja;
    c.template_source = (dir / "chat_template.jinja").string();
    return c;
  }
  if (!cfg || !cfg->contains("chat_template") || (*cfg)["chat_template"].is_null()) return c;
  const ojson& t = (*cfg)["chat_template"];
  c.template_source = cfg_path.string() + " \"chat_template\"";
  if (t.is_string()) {
    c.chat_template = t.get<std::string>();
  } else if (t.is_array()) {  // [{"name": "default", "template": ...}, {"name": "tool_use", ...}]
    for (const ojson& e : t) {
      if (!e.is_object() || !e.contains("name") || !e.contains("template") || !e["template"].is_string())
        throw_invalid_file(cfg_path.string() + ": field \"chat_template\" list entries must be {\"name\", \"template\"}");
      if (e["name"] == "default") c.chat_template = e["template"].get<std::string>();
    }
    if (!c.chat_template)
      throw_invalid_file(cfg_path.string() + ": field \"chat_template\" lists no template named \"default\"");
  } else {
    throw_invalid_file(cfg_path.string() + ": field \"chat_template\" must be a string or a list of named templates, got " +
                       std::string(t.type_name()));
  }
  return c;
}

}  // namespace jitgen::chat
