#include "tokenizer/bpe.h"

#include <algorithm>
#include <mutex>
#include <queue>

namespace jitgen::tokenizer {

Bpe::Bpe(std::vector<int32_t> byte_ids, const std::vector<std::array<int32_t, 3>>& merges)
    : byte_ids_(std::move(byte_ids)) {
  merges_.reserve(merges.size() * 2);
  for (size_t r = 0; r < merges.size(); ++r) {
    // A duplicated pair keeps its first (lowest) rank, as both HF implementations do.
    merges_.try_emplace(key(merges[r][0], merges[r][1]), Merge{static_cast<int32_t>(r), merges[r][2]});
  }
}

// Merges the lowest-ranked adjacent pair, leftmost first, until no pair has a rank. Short words scan
// linearly (cheap, no allocation); long words use a heap over a linked list like tokenizers' BPE
// (word.rs) so that a long run without spaces stays O(n log n). Both give the same merge order.
void Bpe::merge_word(std::string_view word, std::vector<int32_t>& sym) const {
  sym.clear();
  for (unsigned char c : word) sym.push_back(byte_ids_[c]);
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
    int32_t rank;
    int32_t pos;
    int32_t new_id;
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

void Bpe::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() == 1) {
    out.push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
    return;
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
  merge_word(word, sym);
  out.insert(out.end(), sym.begin(), sym.end());
  if (cacheable) {
    std::unique_lock lock(cache_mu_);
    if (cache_.size() < kCacheCapacity) cache_.try_emplace(std::string(word), sym);
  }
}

}  // namespace jitgen::tokenizer
