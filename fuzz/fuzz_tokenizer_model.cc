// A folder with only a SentencePiece tokenizer.model (src/tokenizer/sentencepiece.cc: libsentencepiece plus the
// protobuf fields read by hand) and a tokenizer_config.json picked by the first byte: LlamaTokenizer legacy /
// not legacy / add_prefix_space false, or T5Tokenizer. Seeds in fuzz/corpus/fuzz_tokenizer_model/ are the
// fixtures' .model files. A tokenizer that loads must encode, decode and stream (== decode) without trouble.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "jitgen/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const std::string dir = [] {
    const std::string d = jitgen::fuzz::shm_path("spm");
    std::filesystem::create_directories(d);
    return d;
  }();
  static const char* configs[] = {
      R"({"tokenizer_class": "LlamaTokenizer", "legacy": false, "add_bos_token": true})",
      R"({"tokenizer_class": "LlamaTokenizer", "legacy": true, "add_eos_token": true})",
      R"({"tokenizer_class": "LlamaTokenizerFast", "add_prefix_space": false})",
      R"({"tokenizer_class": "T5Tokenizer", "extra_ids": 2, "clean_up_tokenization_spaces": true})",
  };
  jitgen::fuzz::write_file(dir + "/tokenizer_config.json", configs[data[0] & 3]);
  jitgen::fuzz::write_file(dir + "/tokenizer.model", std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  jitgen::fuzz::expect_clean([&] {
    const jitgen::Tokenizer t = jitgen::Tokenizer::from_dir(dir);
    std::vector<int32_t> all;
    for (std::string_view text : {"Hello, world! 123  \xe2\x82\xac\n", " a  b ", "\xff\xfe <s> </s>", "don ' t ."}) {
      const std::vector<int32_t> ids = t.encode(text);
      for (int32_t id : ids)
        if (id < 0 || id >= t.vocab_size()) __builtin_trap();
      all.insert(all.end(), ids.begin(), ids.end());
    }
    for (bool skip : {false, true}) {
      jitgen::DecodeStream s(t, skip);
      std::string got;
      for (int32_t id : all) got += s.step(id);
      got += s.finish();
      if (got != t.decode(all, skip)) __builtin_trap();
    }
  });
  return 0;
}
