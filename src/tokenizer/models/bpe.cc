// BPE as tokenizers' models/bpe (model.rs merge_word + word.rs merge_all): chars (with the continuing
// subword prefix / end-of-word suffix) become symbols, unknown chars become <0xXX> byte tokens (byte_fallback)
// or unk (fused when fuse_unk), then the lowest-ranked adjacent pair is merged, leftmost first, until none is
// left. A bounded word cache as in tokenizers.
#include <algorithm>
#include <array>
#include <mutex>
#include <queue>
#include <shared_mutex>

#include "jitgen/error.h"
#include "tokenizer/models/model.h"
#include "tokenizer/text.h"

namespace jitgen::tokenizer {
namespace {

std::string squote(std::string_view s) { return "'" + std::string(s) + "'"; }

class Bpe final : public Model {
 public:
  Bpe(const StringIdMap& vocab, const std::vector<MergeSpec>& merges, const BpeOptions& o, const std::string& vocab_source)
      : vocab_(vocab), o_(o) {
    if (o.unk_token) {
      auto it = vocab.find(*o.unk_token);
      if (it == vocab.end())
        throw_invalid_file(vocab_source + ": model.unk_token " + squote(*o.unk_token) +
                           " is not in the vocabulary (expected one of its tokens, or null)");
      unk_id_ = it->second;
    }
    byte_ids_.fill(-1);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      if (auto it = vocab.find(std::string_view(name)); it != vocab.end()) byte_ids_[b] = it->second;
    }
    merges_.reserve(merges.size() * 2);
    const size_t plen = o.continuing_subword_prefix.size();
    for (size_t r = 0; r < merges.size(); ++r) {
      const MergeSpec& m = merges[r];
      auto find = [&](const std::string& t) {
        auto it = vocab.find(t);
        if (it == vocab.end())
          throw_invalid_file(m.where + " " + squote(m.a + " " + m.b) + " uses token " + squote(t) + " that is not in " +
                             vocab_source + " (expected vocabulary and merges from the same tokenizer)");
        return it->second;
      };
      int32_t ia = find(m.a), ib = find(m.b);
      // The merged token drops the right part's continuing-subword prefix (models/bpe/model.rs).
      std::string merged = m.a + (plen && m.b.starts_with(o.continuing_subword_prefix) ? m.b.substr(plen) : m.b);
      int32_t iab = find(merged);
      // A duplicated pair keeps its first (lowest) rank, as both HF implementations do.
      merges_.try_emplace(key(ia, ib), Merge{static_cast<int32_t>(r), iab});
    }
  }

  void tokenize(std::string_view word, std::vector<int32_t>& out) const override {
    if (o_.ignore_merges) {
      if (auto it = vocab_.find(word); it != vocab_.end()) {
        out.push_back(it->second);
        return;
      }
    }
    const bool cacheable = word.size() <= kMaxCachedWordBytes;
    if (cacheable) {
      std::shared_lock lock(cache_mu_);
      auto it = cache_.find(word);
      if (it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    thread_local std::vector<int32_t> sym;
    symbols(word, sym);
    merge(sym);
    out.insert(out.end(), sym.begin(), sym.end());
    if (cacheable) {
      std::unique_lock lock(cache_mu_);
      if (cache_.size() < kCacheCapacity) cache_.try_emplace(std::string(word), sym);
    }
  }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  const Merge* find(int32_t a, int32_t b) const {
    auto it = merges_.find(key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }

  void symbols(std::string_view w, std::vector<int32_t>& sym) const {
    sym.clear();
    std::optional<int32_t> unk;  // pending unknown run
    std::string s;
    const bool affixes = !o_.continuing_subword_prefix.empty() || !o_.end_of_word_suffix.empty();
    for (size_t i = 0; i < w.size();) {
      size_t n = utf8_len(static_cast<unsigned char>(w[i]));
      if (i + n > w.size()) n = w.size() - i;
      std::string_view c = w.substr(i, n);
      if (affixes) {
        s.clear();
        if (i > 0) s += o_.continuing_subword_prefix;
        s += c;
        if (i + n == w.size()) s += o_.end_of_word_suffix;
        c = s;
      }
      i += n;
      if (auto it = vocab_.find(c); it != vocab_.end()) {
        if (unk) sym.push_back(*unk), unk.reset();
        sym.push_back(it->second);
        continue;
      }
      if (o_.byte_fallback &&
          std::all_of(c.begin(), c.end(), [&](char b) { return byte_ids_[static_cast<unsigned char>(b)] >= 0; })) {
        // As model.rs: byte tokens go out before a pending unk is flushed.
        for (char b : c) sym.push_back(byte_ids_[static_cast<unsigned char>(b)]);
        continue;
      }
      if (unk_id_) {
        if (unk && !o_.fuse_unk) sym.push_back(*unk);
        unk = *unk_id_;
      }
    }
    if (unk) sym.push_back(*unk);
  }

  // Lowest rank first, leftmost on ties. Short words scan linearly (cheap, no allocation); long words use a
  // heap over a linked list like word.rs, so a long run without spaces stays O(n log n). Same merge order.
  void merge(std::vector<int32_t>& sym) const {
    const size_t n = sym.size();
    if (n < 2) return;
    if (n <= 48) {
      while (sym.size() > 1) {
        int32_t best_rank = INT32_MAX, best_id = -1;
        size_t best = 0;
        for (size_t i = 0; i + 1 < sym.size(); ++i) {
          const Merge* m = find(sym[i], sym[i + 1]);
          if (m != nullptr && m->rank < best_rank) best_rank = m->rank, best_id = m->new_id, best = i;
        }
        if (best_id < 0) break;
        sym[best] = best_id;
        sym.erase(sym.begin() + static_cast<ptrdiff_t>(best) + 1);
      }
      return;
    }
    struct Item {
      int32_t rank, pos, new_id;
      bool operator>(const Item& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::vector<int32_t> prev(n), next(n);
    std::vector<char> alive(n, 1);
    for (size_t i = 0; i < n; ++i) {
      prev[i] = static_cast<int32_t>(i) - 1;
      next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
    }
    std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
    for (size_t i = 0; i + 1 < n; ++i) {
      if (const Merge* m = find(sym[i], sym[i + 1])) heap.push({m->rank, static_cast<int32_t>(i), m->new_id});
    }
    while (!heap.empty()) {
      Item top = heap.top();
      heap.pop();
      int32_t p = top.pos;
      if (!alive[p] || next[p] < 0) continue;
      int32_t q = next[p];
      const Merge* m = find(sym[p], sym[q]);
      if (m == nullptr || m->new_id != top.new_id) continue;  // stale entry
      sym[p] = top.new_id;
      alive[q] = 0;
      next[p] = next[q];
      if (next[q] >= 0) prev[next[q]] = p;
      if (prev[p] >= 0) {
        if (const Merge* mm = find(sym[prev[p]], sym[p])) heap.push({mm->rank, prev[p], mm->new_id});
      }
      if (next[p] >= 0) {
        if (const Merge* mm = find(sym[p], sym[next[p]])) heap.push({mm->rank, p, mm->new_id});
      }
    }
    size_t w = 0;
    for (int32_t i = 0; i >= 0; i = next[i]) sym[w++] = sym[i];
    sym.resize(w);
  }

  StringIdMap vocab_;
  BpeOptions o_;
  std::optional<int32_t> unk_id_;
  std::array<int32_t, 256> byte_ids_;
  std::unordered_map<uint64_t, Merge> merges_;

  static constexpr size_t kCacheCapacity = 1 << 16;
  static constexpr size_t kMaxCachedWordBytes = 256;
  mutable std::shared_mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace

std::unique_ptr<Model> make_bpe(const StringIdMap& vocab, const std::vector<MergeSpec>& merges, const BpeOptions& o,
                                const std::string& vocab_source) {
  return std::make_unique<Bpe>(vocab, merges, o, vocab_source);
}

void parse_vocab(const Node& v, StringIdMap* vocab) {
  if (!v.json().is_object())
    throw_invalid_file(v.file() + ": " + v.where() + " is a JSON " + v.json().type_name() + " (expected an object of token -> id)");
  vocab->reserve(v.json().size());
  for (auto it = v.json().begin(); it != v.json().end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > INT32_MAX) {
      throw_invalid_file(v.file() + ": " + v.where() + " entry " + squote(it.key()) + " has id " + it.value().dump() +
                         " (expected a non-negative integer)");
    }
    (*vocab)[it.key()] = static_cast<int32_t>(it.value().get<int64_t>());
  }
}

namespace {

std::unique_ptr<Model> bpe_from_json(const Node& n, StringIdMap* vocab) {
  if (auto d = n.get("dropout"); d && !(d->json().is_number() && d->json().get<double>() == 0.0))
    d->fail("null: BPE dropout is for training");
  parse_vocab(n.at("vocab", "an object of token -> id"), vocab);
  auto merges_node = n.get("merges");
  if (!merges_node || !merges_node->json().is_array())
    throw_invalid_file(n.file() + ": model.merges is missing or not an array (expected a list of merges)");
  std::vector<MergeSpec> merges;
  merges.reserve(merges_node->json().size());
  for (size_t i = 0; i < merges_node->json().size(); ++i) {
    Node m = merges_node->index(i);
    const auto& j = m.json();
    MergeSpec s;
    s.where = n.file() + ": " + m.where();
    if (j.is_string()) {
      std::string str = j.get<std::string>();
      size_t sp = str.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 == str.size() || str.find(' ', sp + 1) != std::string::npos)
        m.fail_msg(j.dump() + " is malformed (expected \"a b\" or [\"a\", \"b\"])");
      s.a = str.substr(0, sp);
      s.b = str.substr(sp + 1);
    } else if (j.is_array() && j.size() == 2 && j[0].is_string() && j[1].is_string()) {
      s.a = j[0].get<std::string>();
      s.b = j[1].get<std::string>();
    } else {
      m.fail_msg(j.dump() + " is malformed (expected \"a b\" or [\"a\", \"b\"])");
    }
    merges.push_back(std::move(s));
  }
  BpeOptions o;
  if (auto u = n.get("unk_token")) {
    if (!u->json().is_string()) u->fail("a string or null");
    o.unk_token = u->json().get<std::string>();
  }
  o.byte_fallback = n.flag("byte_fallback", false);
  o.fuse_unk = n.flag("fuse_unk", false);
  o.ignore_merges = n.flag("ignore_merges", false);
  o.continuing_subword_prefix = n.str("continuing_subword_prefix", "");
  o.end_of_word_suffix = n.str("end_of_word_suffix", "");
  return make_bpe(*vocab, merges, o, n.file());
}

}  // namespace

std::unique_ptr<Model> make_model(const Node& n, StringIdMap* vocab) {
  constexpr const char* kKinds = "\"BPE\", \"Unigram\", \"WordPiece\" or \"WordLevel\"";
  std::string t;
  if (auto ty = n.get("type")) {
    if (!ty->json().is_string()) ty->fail(std::string("one of ") + kKinds);
    t = ty->json().get<std::string>();
  } else if (n.get("merges")) {
    t = "BPE";  // tokenizers accepts an untagged model and infers it from its fields
  } else {
    n.at("type", std::string("one of ") + kKinds);
  }
  if (t == "BPE") return bpe_from_json(n, vocab);
  if (t == "Unigram") return make_unigram(n, vocab);
  if (t == "WordPiece") return make_wordpiece(n, vocab);
  if (t == "WordLevel") return make_wordlevel(n, vocab);
  n.at("type", "").fail(std::string("one of ") + kKinds);
}

}  // namespace jitgen::tokenizer
