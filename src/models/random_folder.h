#pragma once
// Shared by every family's random-model maker: a deterministic normal stream per tensor and the writing of an
// HF folder (safetensors, optionally sharded with an index, config.json, generation_config.json, tokenizer).
// The same (seed, tensor name) gives the same bytes on every machine: splitmix64 + Box-Muller, no std::
// distributions.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "jitgen/error.h"
#include "models/family.h"
#include "models/weight_layout.h"

namespace jitgen {

// t (f32) = mean + std * N(0, 1), deterministic in (seed, name).
void fill_normal(Tensor& t, uint64_t seed, const std::string& name, float mean, float std);
bool ends_with(const std::string& s, const std::string& suffix);

// A checkpoint's tensors by HF name, in HF layout ([out, in] linears), in the order the family visits them.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What a random tensor is drawn from: mean + std * N(0, 1).
struct Normal {
  float mean, std;
};

// One random f32 tensor for every tensor a family's visitor names. `visit(fn)` runs the family's for_each_tensor
// (fn(name, Tensor&, shape as HF saves it, linear)) over a scratch Weights; `init(name, shape, linear)` gives the
// Normal to draw from, or nullopt for zeros. Deterministic in (seed, name).
template <typename Visit, typename Init>
NamedTensors random_hf_tensors(Visit&& visit, uint64_t seed, Init&& init) {
  NamedTensors out;
  visit([&](const std::string& name, Tensor& t, const Shape& shape, bool linear) {
    t = Tensor::zeros(shape);
    if (const std::optional<Normal> n = init(name, shape, linear)) fill_normal(t, seed, name, n->mean, n->std);
    out.emplace_back(name, t);
  });
  return out;
}

// The init the Llama family and OPT share, with scales that keep next-token distributions peaked (top-1 well ahead
// of top-2, so greedy comparisons with HF are free of near-ties; see models/gpt2/random_gpt2.cc for the reasoning):
// token embeddings and lm_head N(0, 0.6), the last norm's gain N(0, 1) (zero-mean: no bias towards repeating the
// current token through a tied head), the other norm gains N(1, 0.1), biases N(0, 0.05), linears N(0, 0.64 / sqrt(in))
// (each moves the residual stream by about its own size); anything else zeros.
struct PeakedInit {
  std::string embed_tokens;  // the token embedding's HF name, e.g. "model.embed_tokens.weight"
  std::string final_norm;    // the last norm's gain, e.g. "model.norm.weight"
  std::string norm_suffix;   // what every other norm gain's name ends with, e.g. "layernorm.weight"
  std::optional<Normal> operator()(const std::string& name, const Shape& shape, bool linear) const;
};

// Places `tensors` (random_hf_tensors' output) into the Weights `visit` runs the family's for_each_tensor over,
// linears transposed to the kernel layout, as the family's loader would from the written folder.
template <typename Visit>
void place_hf_tensors(Visit&& visit, const NamedTensors& tensors) {
  size_t i = 0;
  visit([&](const std::string& name, Tensor& dst, const Shape&, bool linear) {
    JITGEN_CHECK(i < tensors.size() && tensors[i].first == name);
    dst = linear ? linear_to_kernel_layout(tensors[i].second) : tensors[i].second;
    ++i;
  });
}

// The make-model options every family refuses alike: --shards outside [1, n_layer + 2] (a shard per layer, the
// embeddings and the head at most) and --with-tokenizer (the GPT-2 vocabulary) with a vocab_size other than 50257.
void check_random_folder_options(const RandomModelOptions& opt, int n_layer, int vocab_size);

// generation_config.json as HF writes it from a model config ("_from_model_config"): bos / eos ids, null when absent
// (< 0).
nlohmann::json generation_config_json(int bos_token_id, int eos_token_id);

// Writes `tensors` (f32, converted to opt.dtype) in opt.shards files, config.json and generation_config.json, and
// copies opt.tokenizer_dir's vocab.json / merges.txt / tokenizer.json / LICENSE when set.
void write_hf_folder(const std::string& dir, const NamedTensors& tensors,
                     const nlohmann::json& config, const nlohmann::json& generation_config,
                     const RandomModelOptions& opt);

}  // namespace jitgen
