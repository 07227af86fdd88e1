#include "tokenizer/text.h"

#include <utf8proc.h>

#include <cstdlib>

namespace jitgen::tokenizer {

size_t decode_utf8(std::string_view s, size_t i, char32_t* cp) {
  utf8proc_int32_t c = 0;
  utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data()) + i,
                                        static_cast<utf8proc_ssize_t>(s.size() - i), &c);
  if (n <= 0) {
    *cp = 0xFFFD;
    return 1;
  }
  *cp = static_cast<char32_t>(c);
  return static_cast<size_t>(n);
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {
utf8proc_category_t cat(char32_t cp) { return utf8proc_category(static_cast<utf8proc_int32_t>(cp)); }
bool is_letter_cat(utf8proc_category_t c) { return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO; }
}  // namespace

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_numeric(char32_t cp) {
  auto c = cat(cp);
  return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

// Alphabetic is letters + Nl + Other_Alphabetic (mostly spacing/non-spacing marks of Indic scripts);
// utf8proc has no Other_Alphabetic table, so marks stand in for it.
bool is_alphanumeric(char32_t cp) {
  auto c = cat(cp);
  return is_letter_cat(c) || is_numeric(cp) || c == UTF8PROC_CATEGORY_MC;
}

bool is_punctuation(char32_t cp) {
  if (cp < 0x80) return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
  auto c = cat(cp);
  return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

bool is_other(char32_t cp) {
  const auto c = cat(cp);
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_CS;
}

bool is_combining_mark(char32_t cp) {
  auto c = cat(cp);
  return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC || c == UTF8PROC_CATEGORY_ME;
}

bool is_word_char(char32_t cp) {
  auto c = cat(cp);
  return is_letter_cat(c) || is_combining_mark(cp) || is_numeric(cp) || c == UTF8PROC_CATEGORY_PC;
}

std::string normalize_form(std::string_view s, NormalForm form) {
  int opts = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::kNFC: opts |= UTF8PROC_COMPOSE; break;
    case NormalForm::kNFD: opts |= UTF8PROC_DECOMPOSE; break;
    case NormalForm::kNFKC: opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case NormalForm::kNFKD: opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  // ASCII is invariant under every form.
  bool ascii = true;
  for (unsigned char c : s) ascii &= c < 0x80;
  if (ascii) return std::string(s);
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                    static_cast<utf8proc_ssize_t>(s.size()), &out, static_cast<utf8proc_option_t>(opts));
  if (n < 0) return std::string(s);  // only for invalid UTF-8, which callers never pass
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

std::string to_lowercase(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for_each_char(s, [&](char32_t cp, size_t b, size_t n) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
    } else if (cp == 0x130) {  // the one code point whose full lowercase mapping is two (i + U+0307)
      out.append("i\xCC\x87");
    } else {
      char32_t lc = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
      if (lc == cp) out.append(s.substr(b, n));
      else append_utf8(out, lc);
    }
  });
  return out;
}

size_t grapheme_len(std::string_view s) {
  char32_t first;
  size_t i = decode_utf8(s, 0, &first);
  utf8proc_int32_t state = 0;
  char32_t prev = first;
  while (i < s.size()) {
    char32_t cp;
    size_t n = decode_utf8(s, i, &cp);
    if (utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev), static_cast<utf8proc_int32_t>(cp), &state)) break;
    prev = cp;
    i += n;
  }
  return i;
}

}  // namespace jitgen::tokenizer
