#pragma once
// Byte-level BPE: merge ranks over token ids and a bounded word cache.
#include <array>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace jitgen::tokenizer {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class Bpe {
 public:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };

  // byte_ids[b] = id of the single-byte token for byte b. merges = (left id, right id, merged id) in rank
  // order. The caller has checked that all ids exist.
  Bpe(std::vector<int32_t> byte_ids, const std::vector<std::array<int32_t, 3>>& merges);

  // Appends the ids of one pre-tokenized word (raw bytes, before the byte-level mapping).
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

 private:
  void merge_word(std::string_view word, std::vector<int32_t>& symbols) const;
  const Merge* find(int32_t a, int32_t b) const {
    auto it = merges_.find(key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }
  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

  std::vector<int32_t> byte_ids_;
  std::unordered_map<uint64_t, Merge> merges_;

  // Word cache (like tokenizers' BPE cache): bounded; once full, new words are computed but not stored.
  static constexpr size_t kCacheCapacity = 1 << 16;
  static constexpr size_t kMaxCachedWordBytes = 256;
  mutable std::shared_mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace jitgen::tokenizer
