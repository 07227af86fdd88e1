// WordPiece (greedy longest-match-first with a continuing-subword prefix, models/wordpiece) and WordLevel
// (whole-piece lookup, models/wordlevel).
#include "jitgen/error.h"
#include "tokenizer/models/model.h"
#include "tokenizer/text.h"

namespace jitgen::tokenizer {
namespace {

int32_t unk_of(const Node& n, const StringIdMap& vocab, const char* fallback) {
  std::string unk = n.str("unk_token", fallback);
  auto it = vocab.find(unk);
  if (it == vocab.end())
    throw_invalid_file(n.file() + ": model.unk_token '" + unk + "' is not in model.vocab (expected one of its tokens)");
  return it->second;
}

class WordPiece final : public Model {
 public:
  WordPiece(const Node& n, StringIdMap* vocab) {
    parse_vocab(n.at("vocab", "an object of token -> id"), vocab);
    vocab_ = *vocab;
    unk_ = unk_of(n, vocab_, "[UNK]");
    prefix_ = n.str("continuing_subword_prefix", "##");
    max_chars_ = static_cast<size_t>(n.integer("max_input_chars_per_word", 100, 0, INT32_MAX));
  }
  void tokenize(std::string_view w, std::vector<int32_t>& out) const override {
    size_t chars = 0;
    for_each_char(w, [&](char32_t, size_t, size_t) { ++chars; });
    if (chars > max_chars_) {
      out.push_back(unk_);
      return;
    }
    std::vector<int32_t> ids;
    std::string cand;
    for (size_t start = 0; start < w.size();) {
      size_t end = w.size();
      int32_t found = -1;
      while (start < end) {
        cand.clear();
        if (start > 0) cand += prefix_;
        cand += w.substr(start, end - start);
        if (auto it = vocab_.find(cand); it != vocab_.end()) {
          found = it->second;
          break;
        }
        do --end;  // back off one char
        while (end > start && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80);
      }
      if (found < 0) {
        out.push_back(unk_);
        return;
      }
      ids.push_back(found);
      start = end;
    }
    out.insert(out.end(), ids.begin(), ids.end());
  }

 private:
  StringIdMap vocab_;
  int32_t unk_;
  std::string prefix_;
  size_t max_chars_;
};

class WordLevel final : public Model {
 public:
  WordLevel(const Node& n, StringIdMap* vocab) {
    parse_vocab(n.at("vocab", "an object of token -> id"), vocab);
    vocab_ = *vocab;
    unk_ = unk_of(n, vocab_, "<unk>");
  }
  void tokenize(std::string_view w, std::vector<int32_t>& out) const override {
    auto it = vocab_.find(w);
    out.push_back(it == vocab_.end() ? unk_ : it->second);
  }

 private:
  StringIdMap vocab_;
  int32_t unk_;
};

}  // namespace

std::unique_ptr<Model> make_wordpiece(const Node& n, StringIdMap* vocab) { return std::make_unique<WordPiece>(n, vocab); }
std::unique_ptr<Model> make_wordlevel(const Node& n, StringIdMap* vocab) { return std::make_unique<WordLevel>(n, vocab); }

}  // namespace jitgen::tokenizer
