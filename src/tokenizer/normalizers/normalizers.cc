#include <vector>

#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/regex.h"
#include "tokenizer/text.h"

namespace jitgen::tokenizer {
namespace {

class UnicodeForm final : public Normalizer {
 public:
  explicit UnicodeForm(NormalForm f) : f_(f) {}
  void normalize(std::string& s) const override { s = normalize_form(s, f_); }

 private:
  NormalForm f_;
};

class Lowercase final : public Normalizer {
 public:
  void normalize(std::string& s) const override { s = to_lowercase(s); }
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& s) const override {
    size_t b = 0, e = s.size();
    if (left_) {
      while (b < e) {
        char32_t cp;
        size_t n = decode_utf8(s, b, &cp);
        if (!is_white_space(cp)) break;
        b += n;
      }
    }
    if (right_) {
      while (e > b) {
        size_t st = e - 1;
        while (st > b && (static_cast<unsigned char>(s[st]) & 0xC0) == 0x80) --st;
        char32_t cp;
        decode_utf8(s, st, &cp);
        if (!is_white_space(cp)) break;
        e = st;
      }
    }
    s = s.substr(b, e - b);
  }

 private:
  bool left_, right_;
};

class StripAccents final : public Normalizer {
 public:
  void normalize(std::string& s) const override {
    std::string out;
    out.reserve(s.size());
    for_each_char(s, [&](char32_t cp, size_t b, size_t n) {
      if (!is_combining_mark(cp)) out.append(s, b, n);
    });
    s = std::move(out);
  }
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string p) : p_(std::move(p)) {}
  void normalize(std::string& s) const override {
    if (!s.empty()) s.insert(0, p_);
  }

 private:
  std::string p_;
};

// Replace: every non-overlapping match of a literal or a regex becomes `content`.
class Replace final : public Normalizer {
 public:
  Replace(const std::string& pattern, std::string content, const std::string& where)
      : re_(pattern, where), content_(std::move(content)) {}
  void normalize(std::string& s) const override {
    std::string out;
    size_t last = 0;
    re_.find_all(s, [&](size_t b, size_t e) {
      out.append(s, last, b - last);
      out += content_;
      last = e;
    });
    if (last == 0 && out.empty()) return;
    out.append(s, last, std::string::npos);
    s = std::move(out);
  }

 private:
  Regex re_;
  std::string content_;
};

// BertNormalizer (HF normalizers/bert.rs).
class Bert final : public Normalizer {
 public:
  Bert(bool clean, bool chinese, bool strip_accents, bool lower)
      : clean_(clean), chinese_(chinese), strip_(strip_accents), lower_(lower) {}
  void normalize(std::string& s) const override {
    std::string out;
    out.reserve(s.size());
    for_each_char(s, [&](char32_t cp, size_t b, size_t n) {
      if (clean_) {
        if (cp == 0 || cp == 0xFFFD || (is_control(cp))) return;
        if (is_white_space(cp)) {
          out.push_back(' ');
          return;
        }
      }
      if (chinese_ && is_chinese(cp)) {
        out.push_back(' ');
        out.append(s, b, n);
        out.push_back(' ');
        return;
      }
      out.append(s, b, n);
    });
    if (strip_) {
      out = normalize_form(out, NormalForm::kNFD);
      StripAccents().normalize(out);
    }
    if (lower_) out = to_lowercase(out);
    s = std::move(out);
  }

 private:
  // bert.rs is_control: the "other" categories Cc, Cf, Co (U+0378, unassigned, is kept, as tokenizers 0.23 does),
  // tab / newline / return excepted.
  static bool is_control(char32_t c) { return c != '\t' && c != '\n' && c != '\r' && is_other(c); }
  static bool is_chinese(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
  }
  bool clean_, chinese_, strip_, lower_;
};

class Sequence final : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void normalize(std::string& s) const override {
    for (const auto& p : parts_) p->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

constexpr const char* kKinds =
    "\"NFC\", \"NFD\", \"NFKC\", \"NFKD\", \"Lowercase\", \"Strip\", \"StripAccents\", \"Prepend\", \"Replace\", "
    "\"Precompiled\", \"BertNormalizer\" or \"Sequence\"";

}  // namespace

// The {"String": s} / {"Regex": r} pattern of Replace and Split, as a regex source.
std::string pattern_of(const Node& n) {
  n.require_object("{\"String\": <text>} or {\"Regex\": <pattern>}");
  if (auto s = n.get("String")) {
    if (!s->json().is_string()) s->fail("a string");
    return regex_escape(s->json().get<std::string>());
  }
  if (auto r = n.get("Regex")) {
    if (!r->json().is_string()) r->fail("a string");
    return r->json().get<std::string>();
  }
  n.fail("{\"String\": <text>} or {\"Regex\": <pattern>}");
}

std::unique_ptr<Normalizer> make_normalizer(const Node& n) {
  const std::string t = n.type(kKinds);
  if (t == "NFC") return std::make_unique<UnicodeForm>(NormalForm::kNFC);
  if (t == "NFD") return std::make_unique<UnicodeForm>(NormalForm::kNFD);
  if (t == "NFKC") return std::make_unique<UnicodeForm>(NormalForm::kNFKC);
  if (t == "NFKD") return std::make_unique<UnicodeForm>(NormalForm::kNFKD);
  if (t == "Lowercase") return std::make_unique<Lowercase>();
  if (t == "Strip") return std::make_unique<Strip>(n.flag("strip_left", true), n.flag("strip_right", true));
  if (t == "StripAccents") return std::make_unique<StripAccents>();
  if (t == "Prepend") return std::make_unique<Prepend>(n.req_str("prepend"));
  if (t == "Replace") {
    Node p = n.at("pattern", "{\"String\": <text>} or {\"Regex\": <pattern>}");
    return std::make_unique<Replace>(pattern_of(p), n.req_str("content"), n.file() + ": " + p.where());
  }
  if (t == "Precompiled") return make_precompiled(n);
  if (t == "BertNormalizer") {
    bool lower = n.flag("lowercase", true);
    bool strip = lower;
    if (auto sa = n.get("strip_accents")) {
      if (!sa->json().is_boolean()) sa->fail("true, false or null");
      strip = sa->json().get<bool>();
    }
    return std::make_unique<Bert>(n.flag("clean_text", true), n.flag("handle_chinese_chars", true), strip, lower);
  }
  if (t == "Sequence") {
    Node list = n.at("normalizers", "a list of normalizers");
    list.require_array("a list of normalizers");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < list.json().size(); ++i) parts.push_back(make_normalizer(list.index(i)));
    return std::make_unique<Sequence>(std::move(parts));
  }
  n.at("type", "").fail("one of " + std::string(kKinds));
}

}  // namespace jitgen::tokenizer
