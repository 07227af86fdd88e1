#include "jitgen/error.h"
#include "tokenizer/post_processors/post_processor.h"

namespace jitgen::tokenizer {
namespace {

class Template final : public PostProcessor {
 public:
  // Each element: the sequence itself (empty optional) or the ids of a special token.
  explicit Template(std::vector<std::optional<std::vector<int32_t>>> parts) : parts_(std::move(parts)) {}
  std::vector<int32_t> process(std::vector<int32_t> ids) const override {
    std::vector<int32_t> out;
    out.reserve(ids.size() + 4);
    for (const auto& p : parts_) {
      if (p) out.insert(out.end(), p->begin(), p->end());
      else out.insert(out.end(), ids.begin(), ids.end());
    }
    return out;
  }
  size_t added_tokens() const override {
    size_t n = 0;
    for (const auto& p : parts_) n += p ? p->size() : 0;
    return n;
  }

 private:
  std::vector<std::optional<std::vector<int32_t>>> parts_;
};

class Identity final : public PostProcessor {
 public:
  std::vector<int32_t> process(std::vector<int32_t> ids) const override { return ids; }
  size_t added_tokens() const override { return 0; }
};

class Sequence final : public PostProcessor {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PostProcessor>> parts) : parts_(std::move(parts)) {}
  std::vector<int32_t> process(std::vector<int32_t> ids) const override {
    for (const auto& p : parts_) ids = p->process(std::move(ids));
    return ids;
  }
  size_t added_tokens() const override {
    size_t n = 0;
    for (const auto& p : parts_) n += p->added_tokens();
    return n;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

std::unique_ptr<PostProcessor> template_of(const Node& n) {
  Node single = n.at("single", "a list of {\"Sequence\": ...} / {\"SpecialToken\": ...} items");
  single.require_array("a list of {\"Sequence\": ...} / {\"SpecialToken\": ...} items");
  std::optional<Node> specials = n.get("special_tokens");
  std::vector<std::optional<std::vector<int32_t>>> parts;
  for (size_t i = 0; i < single.json().size(); ++i) {
    Node item = single.index(i);
    if (item.get("Sequence")) {
      parts.emplace_back(std::nullopt);
      continue;
    }
    auto st = item.get("SpecialToken");
    if (!st) item.fail("{\"Sequence\": {...}} or {\"SpecialToken\": {\"id\": <name>, ...}}");
    std::string name = st->req_str("id");
    std::optional<Node> def = specials ? specials->get(name.c_str()) : std::nullopt;
    if (!def)
      st->fail_msg("names special token " + json_quote(name) +
                   " that post_processor.special_tokens does not define (expected an entry with its ids)");
    Node ids = def->at("ids", "a list of token ids");
    ids.require_array("a list of token ids");
    std::vector<int32_t> v;
    for (size_t k = 0; k < ids.json().size(); ++k) {
      const auto& j = ids.json()[k];
      if (!j.is_number_integer() || j.get<int64_t>() < 0 || j.get<int64_t>() > INT32_MAX) ids.index(k).fail("a token id");
      v.push_back(static_cast<int32_t>(j.get<int64_t>()));
    }
    parts.emplace_back(std::move(v));
  }
  return std::make_unique<Template>(std::move(parts));
}

// Roberta / Bert: "cls": [token, id], "sep": [token, id].
std::unique_ptr<PostProcessor> cls_sep(const Node& n) {
  auto id_of = [&](const char* key) {
    Node p = n.at(key, "[token, id]");
    const auto& j = p.json();
    if (!j.is_array() || j.size() != 2 || !j[0].is_string() || !j[1].is_number_integer() || j[1].get<int64_t>() < 0 ||
        j[1].get<int64_t>() > INT32_MAX)
      p.fail("[token, id]");
    return static_cast<int32_t>(j[1].get<int64_t>());
  };
  std::vector<std::optional<std::vector<int32_t>>> parts;
  parts.emplace_back(std::vector<int32_t>{id_of("cls")});
  parts.emplace_back(std::nullopt);
  parts.emplace_back(std::vector<int32_t>{id_of("sep")});
  return std::make_unique<Template>(std::move(parts));
}

constexpr const char* kKinds = "\"TemplateProcessing\", \"RobertaProcessing\", \"BertProcessing\", \"ByteLevel\" or \"Sequence\"";

}  // namespace

std::unique_ptr<PostProcessor> make_bos_eos_processor(std::optional<int32_t> bos, std::optional<int32_t> eos) {
  std::vector<std::optional<std::vector<int32_t>>> parts;
  if (bos) parts.emplace_back(std::vector<int32_t>{*bos});
  parts.emplace_back(std::nullopt);
  if (eos) parts.emplace_back(std::vector<int32_t>{*eos});
  return std::make_unique<Template>(std::move(parts));
}

std::unique_ptr<PostProcessor> make_post_processor(const Node& n, const StringIdMap& vocab) {
  (void)vocab;
  const std::string t = n.type(kKinds);
  if (t == "TemplateProcessing") return template_of(n);
  if (t == "RobertaProcessing" || t == "BertProcessing") return cls_sep(n);
  if (t == "ByteLevel") return std::make_unique<Identity>();
  if (t == "Sequence") {
    Node list = n.at("processors", "a list of post-processors");
    list.require_array("a list of post-processors");
    std::vector<std::unique_ptr<PostProcessor>> parts;
    for (size_t i = 0; i < list.json().size(); ++i) parts.push_back(make_post_processor(list.index(i), vocab));
    return std::make_unique<Sequence>(std::move(parts));
  }
  n.at("type", "").fail("one of " + std::string(kKinds));
}

}  // namespace jitgen::tokenizer
