// Precompiled charsmap (SentencePiece normalizer spec, as HF's spm_precompiled reads it): little-endian
// u32 trie size in bytes, then that many bytes of Darts double-array units (u32), then NUL-terminated
// replacement strings that the trie values index. Each grapheme cluster shorter than 6 bytes is looked up
// whole; otherwise (or without an entry) each of its chars is looked up alone. A lookup takes the first
// (shortest) prefix match, as spm_precompiled does.
#include <cstring>
#include <vector>

#include "tokenizer/normalizers/normalizer.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/text.h"

namespace jitgen::tokenizer {
namespace {

std::string base64_decode(const Node& n, const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int acc = 0, bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = val(c);
    if (v < 0) n.fail_msg("is not base64 (expected SentencePiece's precompiled charsmap, base64-encoded)");
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

class Precompiled final : public Normalizer {
 public:
  explicit Precompiled(const Node& n) {
    Node f = n.at("precompiled_charsmap", "a base64 string");
    if (!f.json().is_string()) f.fail("a base64 string");
    std::string blob = base64_decode(f, f.json().get<std::string>());
    if (blob.empty()) return;  // an empty charsmap normalizes nothing (HF accepts it)
    uint32_t trie_bytes = 0;
    if (blob.size() < 4) f.fail_msg("is too short (expected a 4-byte trie size, the trie and the strings)");
    std::memcpy(&trie_bytes, blob.data(), 4);
    if (trie_bytes % 4 != 0 || trie_bytes > blob.size() - 4)
      f.fail_msg("declares a trie of " + std::to_string(trie_bytes) + " bytes in a blob of " + std::to_string(blob.size()) +
                 " (expected a multiple of 4 that fits)");
    units_.resize(trie_bytes / 4);
    std::memcpy(units_.data(), blob.data() + 4, trie_bytes);
    normalized_ = blob.substr(4 + trie_bytes);
  }

  void normalize(std::string& s) const override {
    if (units_.empty()) return;
    std::string out;
    out.reserve(s.size());
    for_each_grapheme(s, [&](std::string_view g) {
      if (g.size() < 6) {
        if (auto r = transform(g)) {
          out += *r;
          return;
        }
      }
      for_each_char(g, [&](char32_t, size_t b, size_t len) {
        std::string_view part = g.substr(b, len);
        if (auto r = transform(part)) out += *r;
        else out += part;
      });
    });
    // Replacement strings come from the file: keep the pipeline's valid-UTF-8 invariant.
    s = is_valid_utf8(out) ? std::move(out) : utf8_replace_invalid(out);
  }

 private:
  // Darts unit accessors.
  static bool has_leaf(uint32_t u) { return (u >> 8) & 1; }
  static uint32_t value(uint32_t u) { return u & ((1u << 31) - 1); }
  static uint32_t label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
  static uint32_t offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

  // The replacement of the shortest entry that is a prefix of `key`, if any.
  std::optional<std::string_view> transform(std::string_view key) const {
    size_t pos = 0;
    uint32_t unit = units_[0];
    pos ^= offset(unit);
    for (unsigned char c : key) {
      if (c == 0) break;
      pos ^= c;
      if (pos >= units_.size()) return std::nullopt;
      unit = units_[pos];
      if (label(unit) != c) return std::nullopt;
      pos ^= offset(unit);
      if (pos >= units_.size()) return std::nullopt;
      if (has_leaf(unit)) {
        size_t idx = value(units_[pos]);
        if (idx >= normalized_.size()) return std::nullopt;
        size_t end = normalized_.find('\0', idx);
        if (end == std::string::npos) end = normalized_.size();
        return std::string_view(normalized_).substr(idx, end - idx);
      }
    }
    return std::nullopt;
  }

  std::vector<uint32_t> units_;
  std::string normalized_;
};

}  // namespace

std::unique_ptr<Normalizer> make_precompiled(const Node& n) { return std::make_unique<Precompiled>(n); }

}  // namespace jitgen::tokenizer
