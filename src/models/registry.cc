#include "models/registry.h"

#include <fmt/format.h>

#include "jitgen/error.h"
#include "models/gpt2/family.h"
#include "models/llama/family.h"
#include "models/opt/family.h"

namespace jitgen {

const std::vector<Family>& families() {
  // An explicit list rather than static self-registration: static libraries drop unreferenced registrars.
  static const std::vector<Family> all = {gpt2_family(), llama_family(), mistral_family(), qwen2_family(), opt_family()};
  return all;
}

std::string supported_model_types() {
  std::string s;
  for (const Family& f : families()) s += (s.empty() ? "" : ", ") + f.model_type;
  return s;
}

const Family& family_for(const std::string& model_type, const std::string& where) {
  for (const Family& f : families())
    if (f.model_type == model_type) return f;
  throw_invalid_file(fmt::format("{}: model_type \"{}\" is not supported (supported: {})", where, model_type,
                                 supported_model_types()));
}

std::string all_presets() {
  std::string all;
  for (const Family& f : families())
    for (const std::string& p : f.presets) all += (all.empty() ? "" : ", ") + p;
  return all;
}

const Family& family_for_preset(const std::string& family, const std::string& preset, std::string& name) {
  std::string fam = family;
  name = preset;
  if (auto colon = preset.find(':'); colon != std::string::npos) {
    fam = preset.substr(0, colon);
    name = preset.substr(colon + 1);
  }
  for (const Family& f : families()) {
    if (!fam.empty() && f.model_type != fam) continue;
    for (const std::string& p : f.presets)
      if (p == name) return f;
  }
  if (!fam.empty()) {
    const Family& f = family_for(fam, "--family");
    std::string list;
    for (const std::string& p : f.presets) list += (list.empty() ? "" : ", ") + p;
    throw_invalid_argument(fmt::format("unknown --config \"{}\" for family {}, expected one of {}", name, fam, list));
  }
  throw_invalid_argument(fmt::format("unknown --config \"{}\", expected one of {}", preset, all_presets()));
}

Value build_generation_step(Builder& b, const FamilyModel& model, bool beam_reorder) {
  const Value state = b.input("select_state");
  const Value tokens = b.select_tokens(model.build(b, true), state);
  if (beam_reorder) {
    std::vector<Value> states;  // the KV caches first: the largest, it sizes the scratch
    for (int i = 0; i < model.spec().n_layer; ++i) {
      states.push_back(b.input(fmt::format("k_cache.{}", i)));
      states.push_back(b.input(fmt::format("v_cache.{}", i)));
    }
    states.push_back(b.input("key_mask"));
    b.reorder_rows(tokens, state, b.input("cache_pos"), static_cast<int>(b.shape(b.input("input_ids"))[1]), states);
  }
  return tokens;
}

}  // namespace jitgen
