#include "models/llama/rope.h"

#include <algorithm>
#include <cmath>

namespace jitgen::llama {

namespace {

// base ** (arange(0, dim, 2) / dim), then 1 / that: torch in fp32.
std::vector<float> default_inv_freq(double base, int dim) {
  std::vector<float> inv(dim / 2);
  const float b = static_cast<float>(base);
  for (int i = 0; i < dim / 2; ++i)
    inv[i] = 1.0f / std::pow(b, static_cast<float>(2 * i) / static_cast<float>(dim));
  return inv;
}

void llama3(const RopeConfig& r, std::vector<float>& inv) {
  const float factor = static_cast<float>(r.factor);
  const float low = static_cast<float>(r.low_freq_factor), high = static_cast<float>(r.high_freq_factor);
  const double old_ctx = r.original_max_position_embeddings;
  const float low_wavelen = static_cast<float>(old_ctx / r.low_freq_factor);
  const float high_wavelen = static_cast<float>(old_ctx / r.high_freq_factor);
  for (float& f : inv) {
    const float wavelen = static_cast<float>(2 * M_PI) / f;
    const float scaled = wavelen > low_wavelen ? f / factor : f;  // inv_freq_llama
    const float smooth = (static_cast<float>(old_ctx) / wavelen - low) / (high - low);
    const float smoothed = (1.0f - smooth) * scaled / factor + smooth * scaled;
    const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
    f = medium ? smoothed : scaled;
  }
}

float yarn(const RopeConfig& r, int dim, std::vector<float>& inv) {
  const double factor = r.factor, base = r.theta;
  auto get_mscale = [](double scale, double mscale) { return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; };
  double attention_factor = r.attention_factor;
  if (attention_factor == 0) {
    attention_factor = (r.mscale != 0 && r.mscale_all_dim != 0)
                           ? get_mscale(factor, r.mscale) / get_mscale(factor, r.mscale_all_dim)
                           : get_mscale(factor, 1.0);
  }
  auto correction_dim = [&](double rotations) {
    return (dim * std::log(r.original_max_position_embeddings / (rotations * 2 * M_PI))) / (2 * std::log(base));
  };
  double lo = correction_dim(r.beta_fast), hi = correction_dim(r.beta_slow);
  if (r.truncate) {
    lo = std::floor(lo);
    hi = std::ceil(hi);
  }
  lo = std::max(lo, 0.0);
  hi = std::min(hi, static_cast<double>(dim - 1));
  if (lo == hi) hi += 0.001;  // HF: prevent a singular ramp
  const float flo = static_cast<float>(lo), span = static_cast<float>(hi - lo);
  for (int i = 0; i < dim / 2; ++i) {
    const float pos_freq = std::pow(static_cast<float>(base), static_cast<float>(2 * i) / static_cast<float>(dim));
    const float extrapolation = 1.0f / pos_freq;
    const float interpolation = 1.0f / (static_cast<float>(factor) * pos_freq);
    const float ramp = std::clamp((static_cast<float>(i) - flo) / span, 0.0f, 1.0f);
    const float extrapolation_factor = 1.0f - ramp;
    inv[i] = interpolation * (1.0f - extrapolation_factor) + extrapolation * extrapolation_factor;
  }
  return static_cast<float>(attention_factor);
}

}  // namespace

RopeTable rope_table(const LlamaConfig& c) {
  const RopeConfig& r = c.rope;
  const int head_dim = c.dim();
  const int dim = static_cast<int>(head_dim * r.partial_rotary_factor);
  RopeTable t;
  t.attrs.head_dim = head_dim;
  t.attrs.rotary_dim = dim;
  t.inv_freq = default_inv_freq(r.theta, dim);
  if (r.type == "linear") {
    for (float& f : t.inv_freq) f /= static_cast<float>(r.factor);
  } else if (r.type == "dynamic") {
    // At load HF computes the default frequencies (seq_len = max_position_embeddings); the kernel grows the base
    // once max(position_ids) + 1 passes max_position_embeddings.
    t.attrs.dynamic_base = static_cast<float>(r.theta);
    t.attrs.dynamic_factor = static_cast<float>(r.factor);
    t.attrs.original_max = c.max_position_embeddings;
  } else if (r.type == "llama3") {
    llama3(r, t.inv_freq);
  } else if (r.type == "yarn") {
    t.attrs.attention_factor = yarn(r, dim, t.inv_freq);
  }
  return t;
}

}  // namespace jitgen::llama
