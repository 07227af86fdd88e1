#include "models/random_folder.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "io/safetensors.h"
#include "jitgen/error.h"

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

std::optional<Normal> PeakedInit::operator()(const std::string& name, const Shape& shape, bool linear) const {
  if (name == embed_tokens || name == "lm_head.weight") return Normal{0.0f, 0.6f};
  if (name == final_norm) return Normal{0.0f, 1.0f};
  if (ends_with(name, norm_suffix)) return Normal{1.0f, 0.1f};
  if (ends_with(name, ".bias")) return Normal{0.0f, 0.05f};
  if (linear) return Normal{0.0f, 0.64f / std::sqrt(static_cast<float>(shape[1]))};  // shape [out, in]
  return std::nullopt;
}

void check_random_folder_options(const RandomModelOptions& opt, int n_layer, int vocab_size) {
  if (opt.shards < 1 || opt.shards > n_layer + 2)
    throw_invalid_argument(fmt::format("--shards must be in [1, {}], got {}", n_layer + 2, opt.shards));
  if (!opt.tokenizer_dir.empty() && vocab_size != 50257)
    throw_invalid_argument("--with-tokenizer needs vocab_size 50257 (the GPT-2 vocabulary)");
}

nlohmann::json generation_config_json(int bos_token_id, int eos_token_id) {
  auto id = [](int v) { return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v); };
  return {{"_from_model_config", true}, {"bos_token_id", id(bos_token_id)}, {"eos_token_id", id(eos_token_id)}};
}

void write_hf_folder(const std::string& dir, const NamedTensors& tensors,
                     const nlohmann::json& config, const nlohmann::json& generation_config,
                     const RandomModelOptions& opt) {
  if (opt.dtype != DType::kF32 && opt.dtype != DType::kF16 && opt.dtype != DType::kBF16)
    throw_invalid_argument("random model dtype must be F32, F16 or BF16");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw_invalid_file(fmt::format("{}: cannot create the folder: {}", dir, ec.message()));
  std::vector<std::vector<std::pair<std::string, Tensor>>> shards(opt.shards);
  size_t total = 0;
  for (const auto& [name, t] : tensors) total += t.nbytes();
  size_t written = 0;
  for (const auto& [name, t] : tensors) {
    // Fill shards in order by bytes so each holds about total / shards.
    const size_t shard = std::min<size_t>(opt.shards - 1, written * opt.shards / std::max<size_t>(total, 1));
    shards[shard].emplace_back(name, convert(t, opt.dtype));
    written += t.nbytes();
  }
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
  write_json(dir + "/config.json", config);
  write_json(dir + "/generation_config.json", generation_config);
  if (!opt.tokenizer_dir.empty()) {
    for (const char* f : {"vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "LICENSE"}) {
      const auto src = std::filesystem::path(opt.tokenizer_dir) / f;
      if (std::filesystem::exists(src) &&
          !std::filesystem::copy_file(src, std::filesystem::path(dir) / f,
                                      std::filesystem::copy_options::overwrite_existing, ec))
        throw_invalid_file(fmt::format("{}: cannot copy {}: {}", dir, f, ec.message()));
    }
  }
}

}  // namespace jitgen
