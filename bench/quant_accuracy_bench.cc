// Accuracy of the quantized weight formats against the fp32 model on the golden prompts:
//   quant_accuracy_bench [--model DIR | --preset gpt2] [--new N] [--formats int8,int4,...] [--perplexity FILE.jsonl]
//                        [--json FILE]
// Prompts: every distinct row of tests/fixtures/generation_goldens.json (padding stripped), or with
// --model models/kjv-llama-5m (any folder whose model.safetensors the demo goldens were made from) the English
// prompts of tests/fixtures/demo_model_goldens.json. --perplexity adds each format's perplexity on the documents of
// FILE.jsonl (jitgen/perplexity.h, windows of 256 tokens: the demo model card's held-out definition; write the
// held-out chapters with scripts/goldens_demo_model.py --write-held-out FILE.jsonl). For each prompt the fp32
// model's greedy continuation of N tokens is made first; then, per format, the logits of prompt + continuation
// (teacher-forced, every position) give the max-abs logit error and the mean KL(p_fp32 || p_format) per position,
// the argmax agreement per position, and free-running greedy decoding of N tokens gives the number of prompts whose
// continuation equals fp32's and the mean length of the common prefix. Prints a Markdown table.
// --json FILE also writes the table's numbers, the prompts, the fp32 continuations and, in FILE.logits, the fp32
// logits of every prompt + continuation (float32, little-endian, [sum of sequence lengths, V] row after row), so that
// bench/llama_cpp_quant_accuracy.py measures llama.cpp's formats against the same reference on the same tokens.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jitgen/engine.h"
#include "jitgen/generation_config.h"
#include "jitgen/model.h"
#include "jitgen/perplexity.h"
#include "jitgen/tokenizer.h"
#include "io/sha256sums.h"
#include "models/model_impl.h"
#include "ops/prepared_weights.h"
#include "ops/quant.h"
#include "runtime/thread_pool.h"

using nlohmann::json;
namespace cpu = jitgen::cpu;

namespace {

std::vector<std::vector<int32_t>> golden_prompts(int vocab) {
  std::ifstream in(std::string(JITGEN_SOURCE_DIR) + "/tests/fixtures/generation_goldens.json");
  const json doc = json::parse(in);
  std::set<std::vector<int32_t>> seen;
  std::vector<std::vector<int32_t>> out;
  for (const json& c : doc.at("cases")) {
    const auto ids = c.at("input_ids").get<std::vector<std::vector<int32_t>>>();
    const auto mask = c.at("attention_mask").get<std::vector<std::vector<int32_t>>>();
    for (size_t r = 0; r < ids.size(); ++r) {
      std::vector<int32_t> row;
      for (size_t t = 0; t < ids[r].size(); ++t)
        if (mask[r][t] && ids[r][t] < vocab) row.push_back(ids[r][t]);
      if (!row.empty() && seen.insert(row).second) out.push_back(row);
    }
  }
  return out;
}

// The demo model's English prompts when `dir` holds the weights its goldens were made from; else empty.
std::vector<std::vector<int32_t>> demo_prompts(const std::string& dir) {
  std::ifstream in(std::string(JITGEN_SOURCE_DIR) + "/tests/fixtures/demo_model_goldens.json");
  if (dir.empty() || !in) return {};
  const json doc = json::parse(in);
  if (jitgen::io::sha256_file(dir + "/model.safetensors") != doc.at("model_safetensors_sha256")) return {};
  std::vector<std::vector<int32_t>> out;
  for (const json& t : doc.at("tokenized")) out.push_back(t.at("input_ids").get<std::vector<int32_t>>());
  return out;
}

std::vector<std::string> jsonl_texts(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line).at("text").get<std::string>());
  return out;
}

std::vector<double> log_softmax(const float* z, int64_t V) {
  double mx = z[0];
  for (int64_t i = 1; i < V; ++i) mx = std::max(mx, static_cast<double>(z[i]));
  double s = 0;
  for (int64_t i = 0; i < V; ++i) s += std::exp(z[i] - mx);
  const double lse = mx + std::log(s);
  std::vector<double> out(V);
  for (int64_t i = 0; i < V; ++i) out[i] = z[i] - lse;
  return out;
}

int64_t argmax(const float* z, int64_t V) { return std::max_element(z, z + V) - z; }

jitgen::Model load(const std::string& dir, const std::string& preset, const std::string& format) {
  const cpu::ScopedWeightFormat scope(cpu::parse_weight_format(format, "--formats"));
  return dir.empty() ? jitgen::Model::random_preset(preset, 0) : jitgen::Model::from_dir(dir);
}

std::vector<std::vector<int32_t>> greedy(const jitgen::Model& m, const std::vector<std::vector<int32_t>>& prompts,
                                         int n) {
  const jitgen::Engine engine(m);
  const json over = {{"max_new_tokens", n}, {"min_new_tokens", n}, {"do_sample", false}, {"pad_token_id", 0}};
  const jitgen::GenerationConfig cfg = jitgen::resolve_generation_config(m.impl().generation_defaults, over);
  std::vector<std::vector<int32_t>> out;
  for (const auto& p : prompts) {
    const auto r = engine.generate(jitgen::GenerateInput{{p}, {}}, cfg);
    out.emplace_back(r.sequences[0].begin() + static_cast<long>(p.size()), r.sequences[0].end());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir, preset = "gpt2", formats = "bf16,int8,int8-ch,int4,int4-g128,int4-g128-zp,int8+lm_head", ppl_file;
  std::string json_file;
  int n = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--model") dir = argv[i + 1];
    else if (a == "--preset") preset = argv[i + 1];
    else if (a == "--new") n = std::atoi(argv[i + 1]);
    else if (a == "--formats") formats = argv[i + 1];
    else if (a == "--perplexity") ppl_file = argv[i + 1];
    else if (a == "--json") json_file = argv[i + 1];
  }
  const jitgen::Model ref = load(dir, preset, "f32");
  const int64_t V = ref.info().vocab_size;
  const auto demo = demo_prompts(dir);
  const auto prompts = demo.empty() ? golden_prompts(static_cast<int>(V)) : demo;
  std::vector<int32_t> ppl_stream;  // --perplexity: the documents as the card's stream
  if (!ppl_file.empty())
    ppl_stream = jitgen::document_stream(jitgen::Tokenizer::from_dir(dir), jsonl_texts(ppl_file),
                                         ref.info().bos_token_id, ref.info().eos_token_id);
  json report = {{"model", dir.empty() ? preset : dir}, {"new_tokens", n}, {"prompts", prompts}, {"formats", json::array()}};
  auto ppl = [&](const jitgen::Model& m, json& row) {
    if (ppl_stream.empty()) return std::string();
    const double p = jitgen::perplexity(m, ppl_stream, 256).perplexity;
    row["perplexity"] = p;
    return " " + std::to_string(p) + " |";
  };
  const auto cont = greedy(ref, prompts, n);
  std::vector<std::vector<int32_t>> full;
  for (size_t i = 0; i < prompts.size(); ++i) {
    full.push_back(prompts[i]);
    full.back().insert(full.back().end(), cont[i].begin(), cont[i].end());
  }
  std::vector<std::vector<float>> ref_logits;
  for (const auto& f : full) ref_logits.push_back(ref.forward_logits({f}, {}, jitgen::ExecutionMode::kEager)[0]);
  report["continuations"] = cont;
  if (!json_file.empty()) {
    std::ofstream lf(json_file + ".logits", std::ios::binary);
    for (const auto& l : ref_logits)
      lf.write(reinterpret_cast<const char*>(l.data()), static_cast<std::streamsize>(l.size() * sizeof(float)));
  }
  std::printf("model: %s; %zu golden prompts (tests/fixtures/%s), %d greedy tokens each; threads %d, quant kernels "
              "%s%s\n\n",
              ref.source().c_str(), prompts.size(), demo.empty() ? "generation_goldens.json" : "demo_model_goldens.json",
              n, jitgen::runtime::num_threads(), cpu::quant_path_name(cpu::quant_path()),
              ppl_stream.empty() ? "" : ("; perplexity over " + std::to_string(ppl_stream.size()) + " tokens of " +
                                         ppl_file).c_str());
  std::printf("| format | weight MB | max-abs logit err | max-abs / logit range | mean KL (nats) | argmax agree | "
              "greedy equal | greedy common prefix |%s\n|---|---|---|---|---|---|---|---|%s\n",
              ppl_stream.empty() ? "" : " perplexity |", ppl_stream.empty() ? "" : "---|");
  {
    json row = {{"format", "f32"}, {"weight_mb", ref.impl().model->prepared()->nbytes() / 1e6}};
    std::printf("| f32 | %.1f | 0 | 0 | 0 | 100%% | %zu/%zu | %d |%s\n", ref.impl().model->prepared()->nbytes() / 1e6,
                prompts.size(), prompts.size(), n, ppl(ref, row).c_str());
    report["formats"].push_back(row);
  }
  std::stringstream fs(formats);
  for (std::string fmt; std::getline(fs, fmt, ',');) {
    std::string base = fmt;
    bool head = false;
    if (auto p = base.find("+lm_head"); p != std::string::npos) {
      base = base.substr(0, p);
      head = true;
    }
    cpu::WeightFormat wf = cpu::parse_weight_format(base, "--formats");
    wf.quantize_lm_head = head;
    jitgen::Model q = [&] {
      const cpu::ScopedWeightFormat scope(wf);
      return dir.empty() ? jitgen::Model::random_preset(preset, 0) : jitgen::Model::from_dir(dir);
    }();
    double max_err = 0, range = 0, kl_sum = 0;
    int64_t positions = 0, agree = 0;
    for (size_t i = 0; i < full.size(); ++i) {
      const auto lq = q.forward_logits({full[i]}, {}, jitgen::ExecutionMode::kEager)[0];
      const auto& lr = ref_logits[i];
      for (size_t t = 0; t < full[i].size(); ++t) {
        const float* a = lr.data() + t * V;
        const float* b = lq.data() + t * V;
        const auto la = log_softmax(a, V), lb = log_softmax(b, V);
        double kl = 0;
        for (int64_t v = 0; v < V; ++v) {
          max_err = std::max(max_err, static_cast<double>(std::fabs(a[v] - b[v])));
          kl += std::exp(la[v]) * (la[v] - lb[v]);
        }
        const auto [mn, mx] = std::minmax_element(a, a + V);
        range = std::max(range, static_cast<double>(*mx - *mn));
        kl_sum += kl;
        agree += argmax(a, V) == argmax(b, V);
        ++positions;
      }
    }
    const auto gq = greedy(q, prompts, n);
    int equal = 0;
    double prefix = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
      equal += gq[i] == cont[i];
      size_t k = 0;
      while (k < gq[i].size() && k < cont[i].size() && gq[i][k] == cont[i][k]) ++k;
      prefix += static_cast<double>(k);
    }
    json row = {{"format", fmt},
                {"weight_mb", q.impl().model->prepared()->nbytes() / 1e6},
                {"max_abs", max_err},
                {"max_abs_over_range", max_err / range},
                {"mean_kl", kl_sum / static_cast<double>(positions)},
                {"argmax_agree", static_cast<double>(agree) / static_cast<double>(positions)},
                {"greedy_equal", equal},
                {"greedy_prefix", prefix / static_cast<double>(prompts.size())},
                {"greedy", gq}};
    std::printf("| %s | %.1f | %.4f | %.4f | %.2e | %.1f%% | %d/%zu | %.1f |%s\n", fmt.c_str(),
                q.impl().model->prepared()->nbytes() / 1e6, max_err, max_err / range, kl_sum / positions,
                100.0 * agree / positions, equal, prompts.size(), prefix / prompts.size(), ppl(q, row).c_str());
    std::fflush(stdout);
    report["formats"].push_back(row);
  }
  if (!json_file.empty()) std::ofstream(json_file) << report.dump(1) << "\n";
}
