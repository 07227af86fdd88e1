// Encode / decode of arbitrary bytes with the built-in GPT-2 tokenizer. Checks: ids in range; decoding is
// lossless for ASCII text and idempotent in general (invalid UTF-8 becomes U+FFFD once); arbitrary id lists
// decode or throw kInvalidArgument; batching with fuzzed options keeps every row the same length.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "jitgen/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const jitgen::Tokenizer t = jitgen::Tokenizer::builtin_gpt2();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  jitgen::fuzz::expect_clean([&] {
    const std::vector<int32_t> ids = t.encode(text);
    for (int32_t id : ids)
      if (id < 0 || id >= t.vocab_size()) __builtin_trap();
    const std::string back = t.decode(ids);
    bool ascii = true;
    for (unsigned char c : text) ascii = ascii && c < 0x80;
    if (ascii && back != text) __builtin_trap();
    // Idempotence; when back == text (ASCII and most valid UTF-8) the re-encode would repeat the first one.
    if (back != text && t.decode(t.encode(back)) != back) __builtin_trap();
    (void)t.decode(ids, /*skip_special_tokens=*/true);
  });
  // The same bytes as an id list (3 bytes per id: 24 bits, so both valid and out-of-range ids occur).
  std::vector<int32_t> raw;
  for (size_t i = 0; i + 3 <= size && raw.size() < 64; i += 3)
    raw.push_back(static_cast<int32_t>((data[i] << 16 | data[i + 1] << 8 | data[i + 2]) % 60000) - (data[i] == 0xff));
  jitgen::fuzz::expect_clean([&] {
    try {
      (void)t.decode(raw);
    } catch (const jitgen::Error& e) {
      if (e.code() != jitgen::ErrorCode::kInvalidArgument) __builtin_trap();
    }
  });
  if (size >= 4) {
    jitgen::BatchEncodeOptions opt;
    opt.padding = data[0] & 1;
    opt.padding_side = (data[0] & 2) ? jitgen::PaddingSide::kLeft : jitgen::PaddingSide::kRight;
    opt.truncation_side = (data[0] & 4) ? jitgen::PaddingSide::kLeft : jitgen::PaddingSide::kRight;
    opt.pad_to_multiple_of = data[1] % 9;
    if (data[2] & 1) opt.max_length = static_cast<int>(data[2] >> 1) - 8;
    if (data[3] & 1) opt.pad_token_id = static_cast<int>(data[3]) * 300 - 600;
    const std::string_view body = text.substr(4);
    std::vector<std::string> texts;
    size_t start = 0;
    for (size_t i = 0; i <= body.size() && texts.size() < 8; ++i) {
      if (i == body.size() || body[i] == '\n') {
        // Rows are capped at 256 bytes (the BPE word cache limit): longer ones only repeat the merge of a long
        // word that the first encode above already did, and the batching logic sees up to 256 tokens per row
        // against max_length <= 119 either way.
        texts.emplace_back(body.substr(start, std::min<size_t>(i - start, 256)));
        start = i + 1;
      }
    }
    jitgen::fuzz::expect_clean([&] {
      const jitgen::BatchEncoding b = t.encode_batch(texts, opt);
      if (b.input_ids.size() != texts.size() || b.attention_mask.size() != texts.size()) __builtin_trap();
      for (size_t r = 0; r < b.input_ids.size(); ++r) {
        if (b.input_ids[r].size() != b.attention_mask[r].size()) __builtin_trap();
        if (opt.padding && b.input_ids[r].size() != b.input_ids[0].size()) __builtin_trap();
      }
    });
  }
  return 0;
}
