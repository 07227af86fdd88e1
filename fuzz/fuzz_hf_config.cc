// config.json and generation_config.json: arbitrary bytes go through the same steps as a model folder's
// files (read_json_file -> parse_gpt2_config; load_generation_defaults -> merge_generation_config ->
// validate). Only jitgen::Error may come out.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "io/hf_config.h"
#include "models/gpt2/config.h"
#include "jitgen/generation_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = jitgen::fuzz::shm_path("config.json");
  jitgen::fuzz::write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));
  // Both loaders start with the same read_json_file(path); it is parsed once here and handed to each
  // (load_gpt2_config is exactly parse_gpt2_config(read_json_file(path), path), and load_generation_defaults
  // returns that same object), which halves the JSON parsing per input. load_generation_defaults itself runs
  // on every input that is not an object, the only case where it does more than return the parse.
  nlohmann::json j;
  bool parsed = false;
  jitgen::fuzz::expect_clean([&] {
    j = jitgen::io::read_json_file(path);
    parsed = true;
  });
  if (!parsed) return 0;  // malformed: both loaders stop at the same read_json_file error
  int n_positions = 1024;
  jitgen::fuzz::expect_clean([&] {
    const jitgen::io::Gpt2Config cfg = jitgen::io::parse_gpt2_config(j, path);
    n_positions = cfg.n_positions;
    (void)cfg.to_json().dump();
    (void)cfg.head_dim();
    (void)cfg.inner_dim();
  });
  jitgen::fuzz::expect_clean([&] {
    if (!j.is_object()) j = jitgen::io::load_generation_defaults(path);  // throws: not an object
    const jitgen::GenerationConfig g = jitgen::merge_generation_config(j);
    for (int prompt_len : {1, 7, n_positions - 1, n_positions}) {
      jitgen::fuzz::expect_clean([&] {
        jitgen::validate(g, n_positions, prompt_len);
        (void)jitgen::effective_max_new_tokens(g, prompt_len, n_positions);
      });
    }
  });
  return 0;
}
