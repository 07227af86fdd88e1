#pragma once
// GPT-2's byte <-> unicode mapping and UTF-8 helpers shared by encode and decode.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/text.h"

namespace jitgen::tokenizer {

// bytes_to_unicode() from GPT-2's encoder.py: printable Latin-1 bytes map to themselves, the other 68
// bytes to U+0100.. in byte order. Vocabulary strings are written in this alphabet.
const std::array<char32_t, 256>& byte_to_unicode();
// UTF-8 form of byte_to_unicode()[b] (1 or 2 bytes).
const std::array<std::string, 256>& byte_to_unicode_utf8();

// Inverse of byte_to_unicode for a code point; -1 when `cp` is not in the byte-level alphabet.
int unicode_to_byte(char32_t cp);

// Byte-level decode of one vocabulary string, exactly as tokenizers' ByteLevel decoder: when every code
// point is in the byte-level alphabet the token stands for those bytes, otherwise for its own UTF-8.
std::string byte_level_decode(std::string_view token);

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Replaces every ill-formed subsequence by U+FFFD following the Unicode "maximal subpart" practice,
// which is what Python's bytes.decode("utf-8", errors="replace") and Rust's String::from_utf8_lossy do.
std::string utf8_replace_invalid(std::string_view s);


}  // namespace jitgen::tokenizer
