#include "tokenizer/decoders/decoder.h"

#include <algorithm>

#include "tokenizer/byte_level.h"
#include "tokenizer/regex.h"
#include "tokenizer/text.h"

namespace jitgen::tokenizer {

namespace {
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}
}  // namespace

std::string cleanup_tokenization(std::string s, bool do_not) {
  replace_all(s, " .", ".");
  replace_all(s, " ?", "?");
  replace_all(s, " !", "!");
  replace_all(s, " ,", ",");
  replace_all(s, " ' ", "'");
  replace_all(s, " n't", "n't");
  replace_all(s, " 'm", "'m");
  if (do_not) replace_all(s, " do not", " don't");
  replace_all(s, " 's", "'s");
  replace_all(s, " 've", "'ve");
  replace_all(s, " 're", "'re");
  return s;
}

namespace {

class ByteLevel final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens, bool raw) const override {
    std::string bytes;
    for (const std::string& t : tokens) bytes += byte_level_decode(t);
    if (!raw && !is_valid_utf8(bytes)) bytes = utf8_replace_invalid(bytes);  // String::from_utf8_lossy
    tokens.assign(1, std::move(bytes));
  }
};

// "<0xAB>" -> 0xAB; -1 otherwise (u8::from_str_radix on the two chars: hex digits of either case).
int byte_token(std::string_view t) {
  if (t.size() != 6 || !t.starts_with("<0x") || t.back() != '>') return -1;
  auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
  int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

class ByteFallback final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens, bool raw) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (raw || is_valid_utf8(pending)) out.push_back(pending);
      else
        for (size_t k = 0; k < pending.size(); ++k) out.emplace_back("\xEF\xBF\xBD");  // one U+FFFD per byte
      pending.clear();
    };
    for (std::string& t : tokens) {
      int b = byte_token(t);
      if (b >= 0) {
        pending.push_back(static_cast<char>(b));
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    tokens = std::move(out);
  }
  // The trailing run of byte tokens: a later byte token can make the whole run invalid (all U+FFFD).
  size_t unsettled(const std::vector<std::string_view>& tokens) const override {
    size_t k = 0;
    while (k < tokens.size() && byte_token(tokens[tokens.size() - 1 - k]) >= 0) ++k;
    return k;
  }
};

class Fuse final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens, bool) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
  bool fuses() const override { return true; }
};

class Strip final : public Decoder {
 public:
  Strip(char32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens, bool raw) const override {
    if (raw) return;
    for (std::string& t : tokens) {
      std::vector<std::pair<size_t, size_t>> chars;  // (begin, len)
      std::vector<char32_t> cps;
      for_each_char(t, [&](char32_t cp, size_t b, size_t n) { chars.push_back({b, n}), cps.push_back(cp); });
      size_t first = 0, last = chars.size();
      for (size_t i = 0; i < start_ && i < cps.size() && cps[i] == content_; ++i) first = i + 1;
      for (size_t i = 0; i < stop_ && i < cps.size(); ++i) {
        size_t idx = cps.size() - i - 1;
        if (cps[idx] != content_) break;
        last = idx;
      }
      if (first >= last) {
        t.clear();
        continue;
      }
      size_t b = chars[first].first, e = chars[last - 1].first + chars[last - 1].second;
      t = t.substr(b, e - b);
    }
  }
  // With stop, the end of the text (after Fuse: of the whole text) loses trailing `content` only while it is
  // the end: the last token, and before it every token that is nothing but `content`.
  size_t unsettled(const std::vector<std::string_view>& tokens) const override {
    if (stop_ == 0 || tokens.empty()) return 0;
    size_t k = 1;
    auto only_content = [&](std::string_view t) {
      bool only = true;
      for_each_char(t, [&](char32_t cp, size_t, size_t) { only = only && cp == content_; });
      return only;
    };
    while (k < tokens.size() && only_content(tokens[tokens.size() - 1 - k])) ++k;
    return k;
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class Replace final : public Decoder {
 public:
  Replace(const std::string& pattern, std::string content, const std::string& where) : re_(pattern, where), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens, bool) const override {
    for (std::string& t : tokens) {
      std::string out;
      size_t last = 0;
      re_.find_all(t, [&](size_t b, size_t e) {
        out.append(t, last, b - last);
        out += content_;
        last = e;
      });
      out.append(t, last, std::string::npos);
      t = std::move(out);
    }
  }
  bool looks_across_chars() const override { return true; }

 private:
  Regex re_;
  std::string content_;
};

class Metaspace final : public Decoder {
 public:
  Metaspace(char32_t rep, bool strip_first) : rep_(rep), strip_first_(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens, bool raw) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const bool first = i == 0 && strip_first_ && !raw;
      for_each_char(tokens[i], [&](char32_t cp, size_t b, size_t n) {
        if (cp != rep_) out.append(tokens[i], b, n);
        else if (!first) out.push_back(' ');
      });
      tokens[i] = std::move(out);
    }
  }

 private:
  char32_t rep_;
  bool strip_first_;
};

class WordPiece final : public Decoder {
 public:
  WordPiece(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens, bool raw) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i != 0 || raw) {
        if (t.starts_with(prefix_)) t.erase(0, prefix_.size());
        else t.insert(0, " ");
      }
      if (cleanup_) t = cleanup_tokenization(std::move(t), true);
    }
  }
  bool looks_across_chars() const override { return cleanup_; }

 private:
  std::string prefix_;
  bool cleanup_;
};

class BpeDecoder final : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens, bool raw) const override {
    for (size_t i = 0; i < tokens.size(); ++i) replace_all(tokens[i], suffix_, i + 1 == tokens.size() && !raw ? "" : " ");
  }
  size_t unsettled(const std::vector<std::string_view>& tokens) const override { return tokens.empty() ? 0 : 1; }

 private:
  std::string suffix_;
};

class Sequence final : public Decoder {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens, bool raw) const override {
    for (const auto& p : parts_) p->decode_chain(tokens, raw);
  }
  size_t unsettled(const std::vector<std::string_view>& tokens) const override {
    size_t k = 0;
    bool fused = false;
    for (const auto& p : parts_) {
      if (fused && p->looks_across_chars()) return tokens.size();
      fused = fused || p->fuses();
      k = std::max(k, p->unsettled(tokens));
    }
    return k;
  }
  bool fuses() const override {
    for (const auto& p : parts_)
      if (p->fuses()) return true;
    return false;
  }
  bool looks_across_chars() const override {
    for (const auto& p : parts_)
      if (p->looks_across_chars()) return true;
    return false;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

constexpr const char* kKinds =
    "\"ByteLevel\", \"Metaspace\", \"ByteFallback\", \"Fuse\", \"Strip\", \"Replace\", \"WordPiece\", \"BPEDecoder\" or \"Sequence\"";

}  // namespace

std::unique_ptr<Decoder> make_byte_level_decoder() { return std::make_unique<ByteLevel>(); }

std::unique_ptr<Decoder> make_decoder(const Node& n) {
  const std::string t = n.type(kKinds);
  if (t == "ByteLevel") return std::make_unique<ByteLevel>();
  if (t == "ByteFallback") return std::make_unique<ByteFallback>();
  if (t == "Fuse") return std::make_unique<Fuse>();
  if (t == "Strip") {
    char32_t c = single_char(n.at("content", "a one-character string"));
    return std::make_unique<Strip>(c, static_cast<size_t>(n.integer("start", 0, 0, INT32_MAX)),
                                   static_cast<size_t>(n.integer("stop", 0, 0, INT32_MAX)));
  }
  if (t == "Replace") {
    Node p = n.at("pattern", "{\"String\": <text>} or {\"Regex\": <pattern>}");
    return std::make_unique<Replace>(pattern_of(p), n.req_str("content"), n.file() + ": " + p.where());
  }
  if (t == "Metaspace") {
    char32_t rep = 0x2581;
    if (auto r = n.get("replacement")) rep = single_char(*r);
    bool strip_first = n.flag("add_prefix_space", true);
    if (auto ps = n.get("prepend_scheme")) {
      std::string s = ps->json().is_string() ? ps->json().get<std::string>() : "";
      if (s != "always" && s != "first" && s != "never") ps->fail("\"always\", \"first\" or \"never\"");
      strip_first = s != "never";
    }
    return std::make_unique<Metaspace>(rep, strip_first);
  }
  if (t == "WordPiece") return std::make_unique<WordPiece>(n.str("prefix", "##"), n.flag("cleanup", true));
  if (t == "BPEDecoder") return std::make_unique<BpeDecoder>(n.str("suffix", "</w>"));
  if (t == "Sequence") {
    Node list = n.at("decoders", "a list of decoders");
    list.require_array("a list of decoders");
    std::vector<std::unique_ptr<Decoder>> parts;
    for (size_t i = 0; i < list.json().size(); ++i) parts.push_back(make_decoder(list.index(i)));
    return std::make_unique<Sequence>(std::move(parts));
  }
  n.at("type", "").fail("one of " + std::string(kKinds));
}

}  // namespace jitgen::tokenizer
