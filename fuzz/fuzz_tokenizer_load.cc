// tokenizer.json (every pipeline component: normalizers, pre-tokenizers, models, post-processors, decoders,
// added tokens; seeds in fuzz/corpus/fuzz_tokenizer_load/ cover Llama / Llama-3 / T5 / WordPiece shapes) and
// vocab.json + merges.txt loading. Input: first byte even -> the rest is tokenizer.json;
// odd -> the rest is "vocab.json bytes \0 merges.txt bytes". A tokenizer that loads must then encode and
// decode without trouble, and streaming (DecodeStream) the ids of all the texts in one stream (longer than the
// stream's window) must give exactly decode() of them.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "jitgen/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const std::string tok_path = jitgen::fuzz::shm_path("tokenizer.json");
  static const std::string vocab_path = jitgen::fuzz::shm_path("vocab.json");
  static const std::string merges_path = jitgen::fuzz::shm_path("merges.txt");
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool tokenizer_json = (data[0] & 1) == 0;
  if (tokenizer_json) {
    jitgen::fuzz::write_file(tok_path, rest);
  } else {
    const size_t nul = rest.find('\0');
    jitgen::fuzz::write_file(vocab_path, rest.substr(0, nul));
    jitgen::fuzz::write_file(merges_path, nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1));
  }
  jitgen::fuzz::expect_clean([&] {
    const jitgen::Tokenizer t = tokenizer_json ? jitgen::Tokenizer::from_tokenizer_json(tok_path)
                                               : jitgen::Tokenizer::from_vocab_merges(vocab_path, merges_path);
    auto stream_matches_decode = [&](const std::vector<int32_t>& ids) {
      for (bool skip : {false, true}) {
        jitgen::DecodeStream s(t, skip);
        std::string got;
        for (int32_t id : ids) got += s.step(id);
        got += s.finish();
        if (got != t.decode(ids, skip)) __builtin_trap();
      }
    };
    std::vector<int32_t> all;  // about 100 ids for real vocabularies: past the stream's 64-id window
    for (int round = 0; round < 2; ++round) {
      for (std::string_view text : {"Hello, world! <|endoftext|> 123  \xe2\x82\xac\n", "a", " aa bb", "\xff\xfe",
                                    "<s>ab </s> hi A\n\u2581a 12345 \xe2\x98\x83", "  \t\n\n abab"}) {
        for (bool add_special : {true, false}) {
          const std::vector<int32_t> ids = t.encode(text, add_special);
          for (int32_t id : ids)
            if (id < 0 || id >= t.vocab_size()) __builtin_trap();
          (void)t.decode(ids);
          (void)t.decode(ids, /*skip_special_tokens=*/true);
          all.insert(all.end(), ids.begin(), ids.end());
        }
      }
    }
    // A fuzzed normalizer can turn each space into a hundred unknown ids; the stream then checks thousands of ids,
    // and its decode of everything every 16 ids (DecodeStream's documented cost) took 20-50 s per input under
    // ASan. 256 ids still move the 64-id window several times.
    if (all.size() > 256) all.resize(256);
    stream_matches_decode(all);
    const int n = t.vocab_size();
    for (int32_t id : {0, n / 2, n - 1}) {
      jitgen::fuzz::expect_clean([&] {
        (void)t.id_to_token(id);
        (void)t.token_bytes(id);
        (void)t.is_special_token(id);
        (void)t.decode({id});
      });
    }
    jitgen::fuzz::expect_clean([&] { (void)t.decode({n}); });
    jitgen::fuzz::expect_clean([&] { (void)t.decode({-1}); });
    (void)t.encode_batch({"x", "y z <|endoftext|>"});
  });
  return 0;
}
