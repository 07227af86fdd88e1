#include "tokenizer/pre_tokenizers/pre_tokenizer.h"

#include "tokenizer/byte_level.h"
#include "tokenizer/regex.h"
#include "tokenizer/text.h"

namespace jitgen::tokenizer {

void split_spans(const Piece& p, const std::vector<Span>& spans, SplitBehavior behavior, std::vector<Piece>& out) {
  struct Out {
    size_t b, e;
    bool remove;
  };
  std::vector<Out> parts;
  bool prev_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Span& s : spans) parts.push_back({s.begin, s.end, false});
      break;
    case SplitBehavior::kRemoved:
      for (const Span& s : spans) parts.push_back({s.begin, s.end, s.is_match});
      break;
    case SplitBehavior::kContiguous:
      for (const Span& s : spans) {
        if (s.is_match == prev_match && !parts.empty()) parts.back().e = s.end;
        else parts.push_back({s.begin, s.end, false});
        prev_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Span& s : spans) {
        if (s.is_match && !prev_match && !parts.empty()) parts.back().e = s.end;
        else parts.push_back({s.begin, s.end, false});
        prev_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (size_t k = spans.size(); k-- > 0;) {
        const Span& s = spans[k];
        if (s.is_match && !prev_match && !parts.empty()) parts.back().b = s.begin;
        else parts.push_back({s.begin, s.end, false});
        prev_match = s.is_match;
      }
      std::reverse(parts.begin(), parts.end());
      break;
  }
  for (const Out& o : parts) {
    if (o.remove || o.e == o.b) continue;
    out.push_back(Piece{p.text.substr(o.b, o.e - o.b), p.at_start && o.b == 0});
  }
}

namespace {

// Spans of a regex over text: gaps are non-matches, as tokenizers' Pattern::find_matches.
std::vector<Span> regex_spans(const Regex& re, std::string_view text, bool invert) {
  std::vector<Span> spans;
  size_t prev = 0;
  re.find_all(text, [&](size_t b, size_t e) {
    if (b != prev) spans.push_back({prev, b, invert});
    spans.push_back({b, e, !invert});
    prev = e;
  });
  if (prev != text.size()) spans.push_back({prev, text.size(), invert});
  return spans;
}

// Spans where each char for which pred holds is its own match.
template <typename Pred>
std::vector<Span> char_spans(std::string_view text, Pred&& pred) {
  std::vector<Span> spans;
  size_t prev = 0;
  for_each_char(text, [&](char32_t cp, size_t b, size_t n) {
    if (!pred(cp)) return;
    if (b != prev) spans.push_back({prev, b, false});
    spans.push_back({b, b + n, true});
    prev = b + n;
  });
  if (prev != text.size()) spans.push_back({prev, text.size(), false});
  return spans;
}

template <typename Fn>
void each_piece(std::vector<Piece>& pieces, Fn&& fn) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 2);
  for (const Piece& p : pieces) fn(p, out);
  pieces = std::move(out);
}

SplitBehavior behavior_of(const Node& n, const char* key, SplitBehavior fallback) {
  auto b = n.get(key);
  if (!b) return fallback;
  constexpr const char* kNames = "\"Removed\", \"Isolated\", \"MergedWithPrevious\", \"MergedWithNext\" or \"Contiguous\"";
  if (!b->json().is_string()) b->fail(kNames);
  std::string s = b->json().get<std::string>();
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  b->fail(kNames);
}

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex) re_ = std::make_unique<Regex>(kGpt2Pattern, "the GPT-2 regex");
  }
  void split(std::vector<Piece>& pieces) const override {
    const auto& alphabet = byte_to_unicode_utf8();
    each_piece(pieces, [&](const Piece& in, std::vector<Piece>& out) {
      Piece p = in;
      if (add_prefix_space_ && !p.text.starts_with(' ')) p.text.insert(0, " ");
      size_t first = out.size();
      if (re_) split_spans(p, regex_spans(*re_, p.text, false), SplitBehavior::kIsolated, out);
      else if (!p.text.empty()) out.push_back(std::move(p));
      for (size_t k = first; k < out.size(); ++k) {
        std::string mapped;
        mapped.reserve(out[k].text.size() * 2);
        for (unsigned char c : out[k].text) mapped += alphabet[c];
        out[k].text = std::move(mapped);
      }
    });
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> re_;
};

class Split final : public PreTokenizer {
 public:
  Split(const std::string& pattern, const std::string& where, SplitBehavior b, bool invert)
      : re_(pattern, where), behavior_(b), invert_(invert) {}
  void split(std::vector<Piece>& pieces) const override {
    each_piece(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      split_spans(p, regex_spans(re_, p.text, invert_), behavior_, out);
    });
  }

 private:
  Regex re_;
  SplitBehavior behavior_;
  bool invert_;
};

class Metaspace final : public PreTokenizer {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  Metaspace(char32_t rep, Prepend scheme, bool split) : scheme_(scheme), split_(split), rep_cp_(rep) { append_utf8(rep_, rep); }
  void split(std::vector<Piece>& pieces) const override {
    each_piece(pieces, [&](const Piece& in, std::vector<Piece>& out) {
      Piece p{std::string(), in.at_start};
      p.text.reserve(in.text.size() + 8);
      for (char c : in.text) {
        if (c == ' ') p.text += rep_;
        else p.text.push_back(c);
      }
      bool prepend = scheme_ == Prepend::kAlways || (scheme_ == Prepend::kFirst && in.at_start);
      if (prepend && !p.text.starts_with(rep_)) p.text.insert(0, rep_);
      if (!split_) {
        if (!p.text.empty()) out.push_back(std::move(p));
        return;
      }
      split_spans(p, char_spans(p.text, [&](char32_t cp) { return cp == rep_cp_; }), SplitBehavior::kMergedWithNext, out);
    });
  }

 private:
  Prepend scheme_;
  bool split_;
  char32_t rep_cp_;
  std::string rep_;
};

// Char-class splitters: Digits, Punctuation, WhitespaceSplit.
template <typename Pred>
class CharSplit final : public PreTokenizer {
 public:
  CharSplit(Pred pred, SplitBehavior b) : pred_(pred), behavior_(b) {}
  void split(std::vector<Piece>& pieces) const override {
    each_piece(pieces, [&](const Piece& p, std::vector<Piece>& out) { split_spans(p, char_spans(p.text, pred_), behavior_, out); });
  }

 private:
  Pred pred_;
  SplitBehavior behavior_;
};
template <typename Pred>
std::unique_ptr<PreTokenizer> char_split(Pred pred, SplitBehavior b) {
  return std::make_unique<CharSplit<Pred>>(pred, b);
}

class Sequence final : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void split(std::vector<Piece>& pieces) const override {
    for (const auto& p : parts_) p->split(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

constexpr const char* kKinds =
    "\"ByteLevel\", \"Split\", \"Metaspace\", \"Digits\", \"Whitespace\", \"WhitespaceSplit\", \"Punctuation\", "
    "\"BertPreTokenizer\" or \"Sequence\"";

// Onig's \w (letters, marks, decimal digits, connector punctuation) spelled out for PCRE2.
constexpr const char* kWhitespacePattern = R"([\p{L}\p{M}\p{Nd}\p{Pc}]+|[^\p{L}\p{M}\p{Nd}\p{Pc}\s]+)";

}  // namespace

std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space) {
  return std::make_unique<ByteLevel>(add_prefix_space, true);
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Node& n) {
  const std::string t = n.type(kKinds);
  if (t == "ByteLevel") return std::make_unique<ByteLevel>(n.flag("add_prefix_space", true), n.flag("use_regex", true));
  if (t == "Split") {
    Node pat = n.at("pattern", "{\"String\": <text>} or {\"Regex\": <pattern>}");
    return std::make_unique<Split>(pattern_of(pat), n.file() + ": " + pat.where(),
                                   behavior_of(n, "behavior", SplitBehavior::kRemoved), n.flag("invert", false));
  }
  if (t == "Metaspace") {
    char32_t rep = 0x2581;
    if (auto r = n.get("replacement")) rep = single_char(*r);
    Metaspace::Prepend scheme = n.flag("add_prefix_space", true) ? Metaspace::Prepend::kAlways : Metaspace::Prepend::kNever;
    if (auto ps = n.get("prepend_scheme")) {
      std::string s = ps->json().is_string() ? ps->json().get<std::string>() : "";
      if (s == "always") scheme = Metaspace::Prepend::kAlways;
      else if (s == "first") scheme = Metaspace::Prepend::kFirst;
      else if (s == "never") scheme = Metaspace::Prepend::kNever;
      else ps->fail("\"always\", \"first\" or \"never\"");
    }
    return std::make_unique<Metaspace>(rep, scheme, n.flag("split", true));
  }
  if (t == "Digits") {
    bool individual = n.flag("individual_digits", false);
    return char_split([](char32_t c) { return is_numeric(c); }, individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous);
  }
  if (t == "Whitespace") {
    auto re = std::make_unique<Split>(kWhitespacePattern, "the Whitespace regex", SplitBehavior::kRemoved, true);
    return re;
  }
  if (t == "WhitespaceSplit") return char_split([](char32_t c) { return is_white_space(c); }, SplitBehavior::kRemoved);
  if (t == "Punctuation")
    return char_split([](char32_t c) { return is_punctuation(c); }, behavior_of(n, "behavior", SplitBehavior::kIsolated));
  if (t == "BertPreTokenizer") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    parts.push_back(char_split([](char32_t c) { return is_white_space(c); }, SplitBehavior::kRemoved));
    parts.push_back(char_split([](char32_t c) { return is_punctuation(c); }, SplitBehavior::kIsolated));
    return std::make_unique<Sequence>(std::move(parts));
  }
  if (t == "Sequence") {
    Node list = n.at("pretokenizers", "a list of pre-tokenizers");
    list.require_array("a list of pre-tokenizers");
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < list.json().size(); ++i) parts.push_back(make_pre_tokenizer(list.index(i)));
    return std::make_unique<Sequence>(std::move(parts));
  }
  n.at("type", "").fail("one of " + std::string(kKinds));
}

}  // namespace jitgen::tokenizer
