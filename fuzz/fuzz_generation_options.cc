// Generation options as a caller passes them (the JSON override path: HF field names, as the CLI and a
// request send them) on top of the model's generation_config.json defaults, then validation against a model's
// position table for several prompt lengths. Only jitgen::Error may come out, and a config that validates
// has sane effective lengths.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "jitgen/generation_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // First byte picks the model's position table size; the rest is the override object.
  const int n_positions = 1 + data[0] * 8;
  const nlohmann::json overrides =
      nlohmann::json::parse(data + 1, data + size, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (overrides.is_discarded()) return 0;
  static const nlohmann::json model_defaults = {{"bos_token_id", 50256}, {"eos_token_id", 50256}};
  jitgen::fuzz::expect_clean([&] {
    const jitgen::GenerationConfig g = jitgen::resolve_generation_config(model_defaults, overrides);
    (void)jitgen::decoding_mode(g);
    (void)jitgen::resolved_pad_token_id(g);
    for (int prompt_len : {0, 1, 5, n_positions - 1, n_positions, n_positions + 3}) {
      jitgen::fuzz::expect_clean([&] {
        jitgen::validate(g, n_positions, prompt_len);
        const int new_tokens = jitgen::effective_max_new_tokens(g, prompt_len, n_positions);
        if (new_tokens < 1 || prompt_len + new_tokens > n_positions) __builtin_trap();
      });
    }
  });
  return 0;
}
