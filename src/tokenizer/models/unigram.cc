// Unigram as tokenizers' models/unigram (encode_optimized + tokenize): Viterbi over every vocabulary piece
// that matches at each char boundary; a char no piece starts with costs min_score - 10 as unk; consecutive
// unks are fused; a chosen piece that is unk-only text falls back to <0xXX> bytes when byte_fallback.
#include <cmath>

#include "jitgen/error.h"
#include "tokenizer/models/model.h"
#include "tokenizer/text.h"

namespace jitgen::tokenizer {
namespace {

class Unigram final : public Model {
 public:
  Unigram(const Node& n, StringIdMap* vocab) {
    Node v = n.at("vocab", "a list of [piece, score]");
    v.require_array("a list of [piece, score]");
    nodes_.emplace_back();
    for (size_t i = 0; i < v.json().size(); ++i) {
      Node e = v.index(i);
      const auto& j = e.json();
      if (!j.is_array() || j.size() != 2 || !j[0].is_string() || !j[1].is_number()) e.fail("[piece, score]");
      std::string piece = j[0].get<std::string>();
      double score = j[1].get<double>();
      if (!std::isfinite(score)) e.fail("[piece, score] with a finite score");
      (*vocab)[piece] = static_cast<int32_t>(i);  // a repeated piece maps to its last id, as token_to_ids
      scores_.push_back(score);
      min_score_ = std::min(min_score_, score);
      if (piece.empty()) continue;
      int32_t node = 0;
      for (unsigned char c : piece) node = add_child(node, c);
      nodes_[node].id = static_cast<int32_t>(i);
    }
    if (scores_.empty()) v.fail("a non-empty list of [piece, score]");
    if (auto u = n.get("unk_id")) {
      if (!u->json().is_number_integer() || u->json().get<int64_t>() < 0 ||
          u->json().get<int64_t>() >= static_cast<int64_t>(scores_.size()))
        u->fail("an index into model.vocab, or null");
      unk_id_ = static_cast<int32_t>(u->json().get<int64_t>());
    }
    byte_fallback_ = n.flag("byte_fallback", false);
    byte_ids_.fill(-1);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      if (auto it = vocab->find(std::string_view(name)); it != vocab->end()) byte_ids_[b] = it->second;
    }
    for (const auto& [tok, id] : *vocab) {
      if (id >= 0) ids_by_piece_.emplace(tok, id);
    }
    where_ = n.file() + ": model.unk_id";
  }

  void tokenize(std::string_view s, std::vector<int32_t>& out) const override {
    struct Best {
      int32_t id = -1;
      double score = 0;
      int64_t start = -1;
    };
    const size_t size = s.size();
    const double unk_score = min_score_ - 10.0;
    std::vector<Best> best(size + 1);
    for (size_t start = 0; start < size;) {
      const double here = best[start].score;
      const size_t mblen = std::min(utf8_len(static_cast<unsigned char>(s[start])), size - start);
      bool single = false;
      int32_t node = 0;
      for (size_t k = start; k < size; ++k) {
        node = child(node, static_cast<unsigned char>(s[k]));
        if (node < 0) break;
        int32_t id = nodes_[node].id;
        if (id < 0) continue;
        size_t end = k + 1;
        double cand = here + scores_[id];
        if (best[end].start < 0 || cand > best[end].score) best[end] = {id, cand, static_cast<int64_t>(start)};
        if (end - start == mblen) single = true;
      }
      if (!single) {
        if (!unk_id_) throw_invalid_file(where_ + " is null but the text has a char no piece covers (expected an unk id)");
        double cand = here + unk_score;
        size_t end = start + mblen;
        if (best[end].start < 0 || cand > best[end].score) best[end] = {*unk_id_, cand, static_cast<int64_t>(start)};
      }
      start += mblen;
    }
    // Back-track; consecutive unks fuse into one piece.
    std::vector<std::pair<size_t, size_t>> spans;  // [begin, end) in reverse
    size_t end = size, unk_end = 0;
    bool in_unk = false;
    while (end > 0) {
      const Best& b = best[end];
      size_t start = static_cast<size_t>(b.start);
      if (unk_id_ && b.id == *unk_id_) {
        if (!in_unk) unk_end = end, in_unk = true;
      } else {
        if (in_unk) spans.push_back({end, unk_end}), in_unk = false;
        spans.push_back({start, end});
      }
      end = start;
    }
    if (in_unk) spans.push_back({0, unk_end});
    for (size_t k = spans.size(); k-- > 0;) {
      std::string_view piece = s.substr(spans[k].first, spans[k].second - spans[k].first);
      auto it = ids_by_piece_.find(piece);
      if (it != ids_by_piece_.end()) {
        out.push_back(it->second);
        continue;
      }
      if (byte_fallback_ &&
          std::all_of(piece.begin(), piece.end(), [&](char c) { return byte_ids_[static_cast<unsigned char>(c)] >= 0; })) {
        for (char c : piece) out.push_back(byte_ids_[static_cast<unsigned char>(c)]);
        continue;
      }
      if (!unk_id_) throw_invalid_file(where_ + " is null but the text has a char no piece covers (expected an unk id)");
      out.push_back(*unk_id_);
    }
  }

 private:
  struct TrieNode {
    int32_t id = -1;
    std::vector<std::pair<unsigned char, int32_t>> kids;
  };
  int32_t child(int32_t node, unsigned char c) const {
    for (const auto& [k, v] : nodes_[node].kids)
      if (k == c) return v;
    return -1;
  }
  int32_t add_child(int32_t node, unsigned char c) {
    if (int32_t k = child(node, c); k >= 0) return k;
    nodes_.emplace_back();
    int32_t id = static_cast<int32_t>(nodes_.size() - 1);
    nodes_[node].kids.push_back({c, id});
    return id;
  }

  std::vector<TrieNode> nodes_;
  std::vector<double> scores_;
  double min_score_ = INFINITY;
  std::optional<int32_t> unk_id_;
  bool byte_fallback_ = false;
  std::array<int32_t, 256> byte_ids_{};
  StringIdMap ids_by_piece_;
  std::string where_;
};

}  // namespace

std::unique_ptr<Model> make_unigram(const Node& n, StringIdMap* vocab) { return std::make_unique<Unigram>(n, vocab); }

}  // namespace jitgen::tokenizer
