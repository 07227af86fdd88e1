// jitgen bench: the post's experiments (TF-XLA generate), reproduced on jitgen's eager and compiled
// modes, then the eager-vs-compiled grid, and optionally the memory-bandwidth roofline.
#include <chrono>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "jitgen/engine.h"
#include "ops/cpu_kernels.h"
#include "models/model_impl.h"
#include "runtime/roofline.h"
#include "runtime/thread_pool.h"

namespace jitgen::cli {

namespace {

struct BenchFlags {
  ModelFlag model;
  std::string preset;  // --config: random weights at a real shape
  std::string json_path;
  bool roofline = false, quick = false, skip_grid = false;
  int reps = 2;
  // --device cuda: the GPU grid (cmd_bench_cuda.cc)
  std::string device = "cpu", dtypes = "f32,f16", batches = "1,8,32", news = "20,128";
  int prompt_len = 16;
};

struct Record {
  std::string experiment, mode;
  int batch = 1, prompt_len = 0, new_tokens = 0;
  double first_ms = 0, steady_ms = 0, compile_ms = 0;
  std::string cache;  // first call: hit / miss / n/a
  double tokens_per_s() const { return steady_ms > 0 ? batch * new_tokens * 1000.0 / steady_ms : 0; }
  nlohmann::json to_json() const {
    return {{"experiment", experiment}, {"mode", mode},         {"batch", batch},
            {"prompt_len", prompt_len}, {"new_tokens", new_tokens}, {"first_call_ms", first_ms},
            {"steady_ms", steady_ms},   {"compile_ms", compile_ms}, {"cache", cache},
            {"tokens_per_s", tokens_per_s()}};
  }
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

GenerateInput prompts(int batch, int len, int vocab) {
  GenerateInput in;
  for (int b = 0; b < batch; ++b) {
    std::vector<int32_t> row;
    for (int t = 0; t < len; ++t) row.push_back((1009 * b + 31 * t + 7) % vocab);
    in.input_ids.push_back(row);
  }
  return in;
}

GenerationConfig forced_length(int new_tokens) {
  GenerationConfig cfg;
  cfg.max_new_tokens = new_tokens;
  cfg.min_new_tokens = new_tokens;  // every system generates exactly this many
  cfg.eos_token_id = {};
  cfg.pad_token_id = 0;
  return cfg;
}

// One call timed; the cache column says whether this call found its plans compiled already.
struct Timed {
  double ms;
  GenerateOutput out;
};
Timed timed(const Engine& e, const GenerateInput& in, const GenerationConfig& cfg) {
  const auto t0 = std::chrono::steady_clock::now();
  GenerateOutput out = e.generate(in, cfg);
  return {ms_since(t0), std::move(out)};
}

std::string cache_word(const GenerateOutput& o, ExecutionMode mode) {
  if (mode == ExecutionMode::kEager) return "n/a";
  return o.cache_misses == 0 ? "hit" : fmt::format("miss({})", o.cache_misses);
}

Record measure(const std::string& name, const Engine& e, const GenerateInput& in, const GenerationConfig& cfg,
               int reps) {
  Record r;
  r.experiment = name;
  r.mode = e.options().mode == ExecutionMode::kEager ? "eager" : "compiled";
  r.batch = static_cast<int>(in.input_ids.size());
  r.prompt_len = static_cast<int>(in.input_ids[0].size());
  r.new_tokens = *cfg.max_new_tokens;
  const Timed first = timed(e, in, cfg);
  r.first_ms = first.ms;
  r.compile_ms = first.out.compile_ms;
  r.cache = cache_word(first.out, e.options().mode);
  double best = 1e300;
  for (int i = 0; i < reps; ++i) best = std::min(best, timed(e, in, cfg).ms);
  r.steady_ms = reps > 0 ? best : first.ms;
  return r;
}

void print_table(const std::vector<Record>& rows) {
  fmt::print("{:<38} {:<8} {:>5} {:>6} {:>5} {:>11} {:>11} {:>10} {:>9} {:>10}\n", "experiment", "mode", "batch",
             "prompt", "new", "first ms", "steady ms", "compile ms", "cache", "tokens/s");
  for (const Record& r : rows)
    fmt::print("{:<38} {:<8} {:>5} {:>6} {:>5} {:>11.2f} {:>11.2f} {:>10.2f} {:>9} {:>10.1f}\n", r.experiment, r.mode,
               r.batch, r.prompt_len, r.new_tokens, r.first_ms, r.steady_ms, r.compile_ms, r.cache, r.tokens_per_s());
}

int run_bench(const BenchFlags& f) {
  const cpu::ScopedWeightFormat format(f.model.weight_format());  // --quantize applies to --config presets too
  Model model = f.preset.empty() ? f.model.load_model() : Model::random_preset(f.preset, 0);
  const ModelInfo& info = model.info();
  fmt::print("jitgen bench: {} ({} layers, {} wide, vocab {}), weights {}, {} threads, SIMD target {}\n",
             model.source(), info.n_layer, info.n_embd, info.vocab_size, f.model.weight_format().name(),
             runtime::num_threads(), cpu::simd_name());
  const int V = info.vocab_size;
  std::vector<Record> rows;
  auto fresh = [&](ExecutionMode mode, int bucket) {
    model.impl().compile_cache->clear();  // every experiment starts cold, as a new process would
    EngineOptions o;
    o.mode = mode;
    o.prompt_bucket = bucket;
    return Engine(model, o);
  };

  // (1) One forward + argmax (max_new_tokens = 1): eager vs compiled, first and second call.
  for (ExecutionMode mode : {ExecutionMode::kEager, ExecutionMode::kCompiled}) {
    Engine e = fresh(mode, 8);
    rows.push_back(measure("1 forward+argmax", e, prompts(1, 8, V), forced_length(1), f.reps));
  }
  // (2) Greedy, 20 new tokens, prompt lengths 4 then 5: one plan per exact length (bucket 1) recompiles
  //     for 5, like XLA without padding; pad_to_multiple_of=8 makes the second prompt a cache hit.
  for (int bucket : {1, 8}) {
    Engine e = fresh(ExecutionMode::kCompiled, bucket);
    const std::string tag = bucket == 1 ? "exact lengths" : "pad_to_multiple_of=8";
    rows.push_back(measure(fmt::format("2 greedy len 4 ({})", tag), e, prompts(1, 4, V), forced_length(20), f.reps));
    rows.push_back(measure(fmt::format("2 greedy len 5 ({})", tag), e, prompts(1, 5, V), forced_length(20), f.reps));
  }
  {
    Engine e = fresh(ExecutionMode::kEager, 8);
    rows.push_back(measure("2 greedy len 4", e, prompts(1, 4, V), forced_length(20), f.reps));
  }
  // (3) A new option that changes the graph (num_beams=2: twice the rows) compiles a new plan.
  {
    Engine e = fresh(ExecutionMode::kCompiled, 8);
    rows.push_back(measure("3 greedy", e, prompts(1, 5, V), forced_length(20), f.reps));
    GenerationConfig beams = forced_length(20);
    beams.num_beams = 2;
    rows.push_back(measure("3 num_beams=2 (new plan)", e, prompts(1, 5, V), beams, f.reps));
  // (4) New temperature / top-p / seed values are runtime inputs: no recompile.
    GenerationConfig s1 = forced_length(20);
    s1.do_sample = true;
    s1.temperature = 0.7;
    s1.top_p = 0.9;
    s1.seed[0] = 1;
    rows.push_back(measure("4 sample t=0.7 p=0.9 seed 1", e, prompts(1, 5, V), s1, f.reps));
    GenerationConfig s2 = s1;
    s2.temperature = 1.3;
    s2.top_p = 0.5;
    s2.seed[0] = 2;
    rows.push_back(measure("4 sample t=1.3 p=0.5 seed 2", e, prompts(1, 5, V), s2, f.reps));
  }
  // (5) The grid: eager vs compiled, interleaved cell by cell (this machine's bandwidth drifts).
  if (!f.skip_grid) {
    const std::vector<int> batches = f.quick ? std::vector<int>{1, 8} : std::vector<int>{1, 8, 32};
    const std::vector<int> lens = f.quick ? std::vector<int>{16} : std::vector<int>{16, 128};
    const std::vector<int> news = f.quick ? std::vector<int>{20} : std::vector<int>{20, 128};
    for (int b : batches)
      for (int p : lens)
        for (int n : news)
          for (ExecutionMode mode : {ExecutionMode::kEager, ExecutionMode::kCompiled}) {
            Engine e = fresh(mode, 8);
            rows.push_back(measure("5 grid", e, prompts(b, p, V), forced_length(n), f.reps));
          }
  }
  print_table(rows);

  nlohmann::json doc = {{"model", model.source()},
                        {"n_layer", info.n_layer},
                        {"n_embd", info.n_embd},
                        {"vocab_size", info.vocab_size},
                        {"threads", runtime::num_threads()},
                        {"simd", cpu::simd_name()},
                        {"results", nlohmann::json::array()}};
  for (const Record& r : rows) doc["results"].push_back(r.to_json());
  if (f.roofline) {
    const runtime::Bandwidth bw = runtime::measure_bandwidth();
    const ModelSpec& spec = model.impl().spec();
    const runtime::DecodeShape shape{spec.n_layer, spec.hidden_size, spec.intermediate_size, spec.vocab_size,
                                     spec.kv_width()};
    const double bytes = runtime::bytes_per_token(shape, 4, 1, 32);
    const double limit = bw.read_gbps * 1e9 / bytes;
    double measured = 0;
    {
      Engine e = fresh(ExecutionMode::kCompiled, 8);
      const Record r = measure("roofline decode b=1", e, prompts(1, 16, V), forced_length(64), f.reps);
      measured = r.tokens_per_s();
    }
    fmt::print("\nroofline: triad {:.1f} GB/s, read {:.1f} GB/s; {:.1f} MB per decoded token (fp32, batch 1) -> "
               "{:.1f} tokens/s at the limit; jitgen compiled reaches {:.1f} tokens/s ({:.0f}% of the limit, "
               "prefill included)\n",
               bw.triad_gbps, bw.read_gbps, bytes / 1e6, limit, measured, 100.0 * measured / limit);
    doc["roofline"] = {{"triad_gbps", bw.triad_gbps},       {"read_gbps", bw.read_gbps},
                       {"bytes_per_token", bytes},          {"limit_tokens_per_s", limit},
                       {"measured_tokens_per_s", measured}};
  }
  if (!f.json_path.empty()) {
    const std::string tmp = f.json_path + ".tmp";
    std::ofstream(tmp) << doc.dump(2) << "\n";
    std::rename(tmp.c_str(), f.json_path.c_str());
    fmt::print("wrote {}\n", f.json_path);
  }
  return 0;
}

}  // namespace

Subcommand register_bench(CLI::App& parent) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* cmd = parent.add_subcommand(
      "bench", "Reproduce the TF-XLA generate experiments on jitgen (eager vs compiled), plus a timing grid");
  flags->model.add_to(cmd);
  cmd->add_option("--config", flags->preset,
                  "Random weights at a real shape: tiny, gpt2, gpt2-medium, ... (--device cuda: a comma list)");
  cmd->add_option("--json", flags->json_path, "Also write the results as JSON to this file");
  cmd->add_option("--reps", flags->reps, "Timed calls after the first (best is reported)")->check(CLI::Range(0, 100));
  cmd->add_flag("--roofline", flags->roofline, "Measure memory bandwidth and print tokens/s at the limit");
  cmd->add_flag("--quick", flags->quick, "A smaller grid (batch 1/8, prompt 16, 20 new tokens)");
  cmd->add_flag("--no-grid", flags->skip_grid, "Only the post's experiments");
  cmd->add_option("--device", flags->device, "cpu (the experiments above) or cuda (the GPU grid)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--dtypes", flags->dtypes, "--device cuda: storage types, comma separated (f32,f16,bf16)");
  cmd->add_option("--batches", flags->batches, "--device cuda: batch sizes, comma separated");
  cmd->add_option("--new", flags->news, "--device cuda: new-token counts, comma separated");
  cmd->add_option("--prompt-len", flags->prompt_len, "--device cuda: prompt tokens per row")->check(CLI::Range(1, 512));
  return {cmd, [flags] {
            if (flags->device == "cuda") {
              const cpu::ScopedWeightFormat format(flags->model.weight_format());  // --quantize: int8 / int4 linears
              return run_cuda_bench(flags->preset.empty() ? "gpt2" : flags->preset, flags->dtypes, flags->batches,
                                    flags->news, flags->prompt_len, flags->reps, flags->json_path);
            }
            return run_bench(*flags);
          }};
}

}  // namespace jitgen::cli
