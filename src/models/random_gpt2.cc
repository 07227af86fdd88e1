#include "models/random_gpt2.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"

namespace jitgen {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// mean + std * N(0, 1), deterministic in (seed, name).
void fill_normal(Tensor& t, uint64_t seed, const std::string& name, float mean, float std) {
  uint64_t state = seed ^ fnv1a(name);
  float* p = t.f32();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; i += 2) {
    // 53-bit uniforms in (0, 1]
    const double u1 = (static_cast<double>(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    p[i] = mean + std * static_cast<float>(r * std::cos(2.0 * M_PI * u2));
    if (i + 1 < n) p[i + 1] = mean + std * static_cast<float>(r * std::sin(2.0 * M_PI * u2));
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Tensor convert(const Tensor& t, DType dtype) {
  if (dtype == DType::kF32) return t;
  Tensor out = Tensor::zeros(t.shape(), dtype);
  auto* dst = static_cast<uint16_t*>(out.data());
  for (int64_t i = 0; i < t.numel(); ++i)
    dst[i] = dtype == DType::kF16 ? f32_to_f16(t.f32()[i]) : f32_to_bf16(t.f32()[i]);
  return out;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    out.close();
    if (out.fail()) {
      std::remove(tmp.c_str());
      throw_invalid_file(fmt::format("{}: cannot write", path));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw_invalid_file(fmt::format("{}: cannot write: {}", path, ec.message()));
  }
}

}  // namespace

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
  if (opt.dtype != DType::kF32 && opt.dtype != DType::kF16 && opt.dtype != DType::kBF16)
    throw_invalid_argument("random model dtype must be F32, F16 or BF16");
  if (opt.shards < 1 || opt.shards > config.n_layer + 2)
    throw_invalid_argument(fmt::format("--shards must be in [1, {}], got {}", config.n_layer + 2, opt.shards));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw_invalid_file(fmt::format("{}: cannot create the folder: {}", dir, ec.message()));
  Gpt2Weights w = random_gpt2_weights(config, opt.seed);

  std::vector<std::vector<std::pair<std::string, Tensor>>> shards(opt.shards);
  size_t total = 0;
  for_each_gpt2_tensor(config, w, [&](const std::string&, Tensor& t, const Shape&) { total += t.nbytes(); });
  size_t written = 0;
  for_each_gpt2_tensor(config, w, [&](const std::string& name, Tensor& t, const Shape&) {
    // Fill shards in order by bytes so each holds about total / shards.
    const size_t shard = std::min<size_t>(opt.shards - 1, written * opt.shards / std::max<size_t>(total, 1));
    shards[shard].emplace_back(name, convert(t, opt.dtype));
    written += t.nbytes();
  });
  const std::map<std::string, std::string> meta{{"format", "pt"}};
  if (opt.shards == 1) {
    io::write_safetensors(dir + "/model.safetensors", shards[0], meta);
  } else {
    nlohmann::json weight_map = nlohmann::json::object();
    size_t bytes = 0;
    for (int s = 0; s < opt.shards; ++s) {
      const std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, opt.shards);
      for (auto& [name, t] : shards[s]) {
        weight_map[name] = file;
        bytes += t.nbytes();
      }
      io::write_safetensors(dir + "/" + file, shards[s], meta);
    }
    write_json(dir + "/model.safetensors.index.json",
               {{"metadata", {{"total_size", bytes}}}, {"weight_map", weight_map}});
  }
  write_json(dir + "/config.json", config.to_json());
  write_json(dir + "/generation_config.json",
             {{"_from_model_config", true}, {"bos_token_id", config.bos_token_id}, {"eos_token_id", config.eos_token_id}});
  if (!opt.tokenizer_dir.empty()) {
    for (const char* f : {"vocab.json", "merges.txt", "LICENSE"}) {
      const auto src = std::filesystem::path(opt.tokenizer_dir) / f;
      if (std::filesystem::exists(src) &&
          !std::filesystem::copy_file(src, std::filesystem::path(dir) / f,
                                      std::filesystem::copy_options::overwrite_existing, ec))
        throw_invalid_file(fmt::format("{}: cannot copy {}: {}", dir, f, ec.message()));
    }
  }
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
