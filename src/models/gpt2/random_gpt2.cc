#include "models/gpt2/random_gpt2.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/random_folder.h"

namespace jitgen {

Gpt2Weights random_gpt2_weights(const io::Gpt2Config& c, uint64_t seed) {
  Gpt2Weights w;
  w.h.resize(c.n_layer);
  // Token embeddings are large, so logits = ln_f(x) . wte have a standard deviation of ~sqrt(C) * 0.6
  // and the top token stands out; the other weights follow HF's 0.02 init scaled up so every layer
  // moves the residual stream about as much as the embeddings do.
  const float wte_std = 0.6f;
  for_each_gpt2_tensor(c, w, [&](const std::string& name, Tensor& t, const Shape& shape) {
    t = Tensor::zeros(shape);
    if (name == "wte.weight") {
      fill_normal(t, seed, name, 0.0f, wte_std);
    } else if (name == "wpe.weight") {
      fill_normal(t, seed, name, 0.0f, 0.3f);
    } else if (name == "ln_f.weight") {
      // Zero-mean final gains remove the tied-embedding bias towards repeating the current token
      // (ln_f(wte[t]) . wte[t] would otherwise dominate every row).
      fill_normal(t, seed, name, 0.0f, 1.0f);
    } else if (ends_with(name, "ln_1.weight") || ends_with(name, "ln_2.weight")) {
      fill_normal(t, seed, name, 1.0f, 0.1f);
    } else if (ends_with(name, ".bias")) {
      fill_normal(t, seed, name, 0.0f, 0.05f);
    } else {
      fill_normal(t, seed, name, 0.0f, 0.08f);
    }
  });
  w.lm_head = w.wte;
  return w;
}

void write_random_gpt2(const io::Gpt2Config& config, const RandomModelOptions& opt, const std::string& dir) {
  check_random_folder_options(opt, config.n_layer, config.vocab_size);
  Gpt2Weights w = random_gpt2_weights(config, opt.seed);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for_each_gpt2_tensor(config, w, [&](const std::string& name, Tensor& t, const Shape&) { tensors.emplace_back(name, t); });
  write_hf_folder(dir, tensors, config.to_json(), generation_config_json(config.bos_token_id, config.eos_token_id),
                  opt);
}

io::Gpt2Config gpt2_preset(const std::string& name) {
  io::Gpt2Config c;  // HF defaults = gpt2 (124M)
  if (name == "gpt2") return c;
  if (name == "tiny") {
    c.n_layer = 2;
    c.n_head = 4;
    c.n_embd = 64;
    c.n_positions = 256;
    return c;
  }
  if (name == "gpt2-medium") {
    c.n_layer = 24, c.n_head = 16, c.n_embd = 1024;
    return c;
  }
  if (name == "gpt2-large") {
    c.n_layer = 36, c.n_head = 20, c.n_embd = 1280;
    return c;
  }
  if (name == "gpt2-xl") {
    c.n_layer = 48, c.n_head = 25, c.n_embd = 1600;
    return c;
  }
  throw_invalid_argument(
      fmt::format("unknown --config \"{}\", expected one of tiny, gpt2, gpt2-medium, gpt2-large, gpt2-xl", name));
}

}  // namespace jitgen
