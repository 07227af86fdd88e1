#include <filesystem>

#include <fmt/format.h>

#include "graph/eager_builder.h"
#include "models/step_runner.h"
#include "models/model_impl.h"
#include "models/random_gpt2.h"

namespace jitgen {

namespace {
ModelInfo make_info(const io::Gpt2Config& c) {
  return ModelInfo{c.model_type, c.n_layer,  c.n_head,       c.n_embd,
                   c.n_positions, c.vocab_size, c.bos_token_id, c.eos_token_id};
}
}  // namespace

Model Model::from_dir(const std::string& dir) {
  if (!std::filesystem::is_directory(dir))
    throw_invalid_file(fmt::format("{}: model folder not found (expected a Hugging Face folder with config.json "
                                   "and model.safetensors)",
                                   dir));
  auto impl = std::make_shared<Impl>();
  impl->config = io::load_gpt2_config(dir + "/config.json");
  parse_activation(impl->config.activation_function);  // fail at load, not at the first step
  impl->weights = load_gpt2_weights(dir, impl->config);
  impl->generation_defaults = io::load_generation_defaults(dir + "/generation_config.json");
  impl->info = make_info(impl->config);
  impl->source = dir;
  return Model(std::move(impl));
}

Model Model::builtin_default() {
  auto impl = std::make_shared<Impl>();
  impl->config = gpt2_preset("tiny");
  impl->weights = random_gpt2_weights(impl->config, 0);
  impl->generation_defaults = {{"bos_token_id", impl->config.bos_token_id},
                               {"eos_token_id", impl->config.eos_token_id}};
  impl->info = make_info(impl->config);
  impl->source = "<built-in random gpt2>";
  return Model(std::move(impl));
}

const ModelInfo& Model::info() const { return impl_->info; }
const std::string& Model::source() const { return impl_->source; }

std::vector<std::vector<float>> Model::forward_logits(const std::vector<std::vector<int32_t>>& input_ids,
                                                      const std::vector<std::vector<int32_t>>& attention_mask,
                                                      ExecutionMode mode) const {
  const int B = static_cast<int>(input_ids.size());
  if (B == 0) return {};
  const int T = static_cast<int>(input_ids[0].size());
  std::vector<std::vector<int32_t>> mask = attention_mask;
  if (mask.empty()) mask.assign(B, std::vector<int32_t>(T, 1));
  // HF position ids for padded batches: cumsum(mask) - 1, pads at 1.
  std::vector<std::vector<int32_t>> pos(B, std::vector<int32_t>(T));
  for (int b = 0; b < B; ++b) {
    int run = 0;
    for (int t = 0; t < T; ++t) {
      run += mask[b][t] ? 1 : 0;
      pos[b][t] = mask[b][t] ? run - 1 : 1;
    }
  }
  const Tensor logits = make_step_runner(*this, B, T, mode)->step(input_ids, pos, mask, false);  // [B, T, V]
  const int64_t row = static_cast<int64_t>(T) * info().vocab_size;
  std::vector<std::vector<float>> out(B);
  for (int b = 0; b < B; ++b) out[b].assign(logits.f32() + b * row, logits.f32() + (b + 1) * row);
  return out;
}

}  // namespace jitgen
