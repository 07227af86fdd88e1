#include "tokenizer/byte_level.h"

#include <cstring>

namespace jitgen::tokenizer {
namespace {

struct Tables {
  std::array<char32_t, 256> to_unicode{};
  std::array<std::string, 256> to_utf8{};
  std::array<int16_t, 512> from_unicode{};  // every code point of the alphabet is < U+0144

  Tables() {
    from_unicode.fill(-1);
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); };
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      char32_t cp = printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
      to_unicode[b] = cp;
      append_utf8(to_utf8[b], cp);
      from_unicode[cp] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

// Length of the well-formed prefix of a UTF-8 sequence starting at s[0] (0 if s[0] cannot start one),
// and whether it is complete. Bounds follow Table 3-7 of the Unicode standard.
struct SeqCheck {
  size_t valid;  // bytes that form a valid (maybe incomplete) prefix
  bool complete;
};

inline SeqCheck check_sequence(const unsigned char* s, size_t n) {
  unsigned char b0 = s[0];
  if (b0 < 0x80) return {1, true};
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {0, false};
  }
  size_t i = 1;
  for (; i < need; ++i) {
    if (i >= n) return {i, false};
    unsigned char c = s[i];
    bool ok = (i == 1) ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
    if (!ok) return {i, false};
  }
  return {need, true};
}

}  // namespace

const std::array<char32_t, 256>& byte_to_unicode() { return tables().to_unicode; }
const std::array<std::string, 256>& byte_to_unicode_utf8() { return tables().to_utf8; }

int unicode_to_byte(char32_t cp) { return cp < 512 ? tables().from_unicode[cp] : -1; }

std::string byte_level_decode(std::string_view token) {
  // Vocabulary strings are valid UTF-8 (they come from JSON).
  std::string out;
  out.reserve(token.size());
  const auto* s = reinterpret_cast<const unsigned char*>(token.data());
  size_t i = 0, n = token.size();
  while (i < n) {
    char32_t cp;
    size_t len;
    unsigned char b = s[i];
    if (b < 0x80) {
      cp = b, len = 1;
    } else if ((b >> 5) == 0x6 && i + 1 < n) {
      cp = ((b & 0x1F) << 6) | (s[i + 1] & 0x3F), len = 2;
    } else {
      return std::string(token);  // a code point >= U+0800: outside the alphabet
    }
    int byte = unicode_to_byte(cp);
    if (byte < 0) return std::string(token);
    out.push_back(static_cast<char>(byte));
    i += len;
  }
  return out;
}

bool is_valid_utf8(std::string_view sv) {
  const auto* s = reinterpret_cast<const unsigned char*>(sv.data());
  size_t i = 0, n = sv.size();
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    SeqCheck c = check_sequence(s + i, n - i);
    if (!c.complete) return false;
    i += c.valid;
  }
  return true;
}

std::string utf8_replace_invalid(std::string_view sv) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(sv.size() + 8);
  const auto* s = reinterpret_cast<const unsigned char*>(sv.data());
  size_t i = 0, n = sv.size();
  while (i < n) {
    SeqCheck c = check_sequence(s + i, n - i);
    if (c.complete) {
      out.append(sv.data() + i, c.valid);
      i += c.valid;
    } else {
      out.append(kReplacement, 3);
      i += c.valid == 0 ? 1 : c.valid;  // a maximal subpart becomes a single U+FFFD
    }
  }
  return out;
}

}  // namespace jitgen::tokenizer
