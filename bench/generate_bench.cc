// jitgen side of the peer comparison (bench/run_peers.py): greedy generate() with a forced number of new
// tokens on the prompts in a file, first call (includes compile) and steady state, as one JSON line.
//   generate_bench --model DIR --prompts FILE --new N [--mode compiled|eager] [--repeats R] [--roofline]
// FILE: one prompt per line, token ids separated by spaces (all rows the same length).
// Besides wall times it reports process CPU seconds: call_cpu_s (a whole call) and decode_cpu_s (a call minus a
// prefill-only call, max_new_tokens = 1, timed alike): on a loaded machine, CPU time leaves out the time the
// process waited for a core. At one thread that is the work itself; at more, idle workers' spinning counts too.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <utility>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jitgen/generate.h"
#include "jitgen/model.h"
#include "models/model_impl.h"
#include "ops/cpu_kernels.h"
#include "ops/prepared_weights.h"
#include "ops/quant.h"
#include "runtime/roofline.h"
#include "runtime/thread_pool.h"

using Clock = std::chrono::steady_clock;

namespace {
// The process's anonymous memory and how much of it sits on transparent huge pages (Linux /proc/self/smaps_rollup;
// {-1, -1} elsewhere), in MiB: tells whether the packed weights got 2 MiB pages on this run (core/memory.h).
std::pair<double, double> anon_and_huge_mib() {
  std::ifstream f("/proc/self/smaps_rollup");
  double anon = -1, huge = -1;
  for (std::string key; f >> key;) {
    double kb = 0;
    if (key == "Anonymous:" && f >> kb) anon = kb / 1024;
    if (key == "AnonHugePages:" && f >> kb) huge = kb / 1024;
  }
  return {anon, huge};
}

// /proc/self/status VmRSS and RssAnon in MiB ({-1, -1} elsewhere): resident memory right after load, before any step
// allocates, i.e. the weights as loaded (packed panels, plus the fp32 copies when they are kept).
std::pair<double, double> rss_and_anon_mib() {
  std::ifstream f("/proc/self/status");
  double rss = -1, anon = -1;
  for (std::string key; f >> key;) {
    double kb = 0;
    if (key == "VmRSS:" && f >> kb) rss = kb / 1024;
    if (key == "RssAnon:" && f >> kb) anon = kb / 1024;
  }
  return {rss, anon};
}

double process_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
}  // namespace

int main(int argc, char** argv) {
  std::string model_dir, prompts_file, mode = "compiled";
  int new_tokens = 32, repeats = 3;
  bool roofline = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (a == "--model") model_dir = next();
    else if (a == "--prompts") prompts_file = next();
    else if (a == "--new") new_tokens = std::stoi(next());
    else if (a == "--mode") mode = next();
    else if (a == "--repeats") repeats = std::stoi(next());
    else if (a == "--roofline") roofline = true;
    else {
      std::fprintf(stderr, "generate_bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  nlohmann::json out;
  // JITGEN_WEIGHTS picks the format: f32, bf16, int8, int4, ... (ops/prepared_weights.h)
  out["system"] = std::string("jitgen-") + mode + "-" + jitgen::cpu::weight_format_for_load().name();
  out["threads"] = jitgen::runtime::num_threads();
  out["simd"] = jitgen::cpu::simd_name();
  out["quant_path"] = jitgen::cpu::quant_path_name(jitgen::cpu::quant_path());  // the int8 / int4 kernels' path
  if (roofline) {
    const auto bw = jitgen::runtime::measure_bandwidth();
    out["triad_gbps"] = bw.triad_gbps;
    out["read_gbps"] = bw.read_gbps;
    out["read_cpu_gbps"] = bw.read_cpu_gbps;
    out["read_streams"] = bw.read_streams;
    out["read_gbps_by_streams"] = {{"1", bw.read_gbps_by_streams[0]}, {"2", bw.read_gbps_by_streams[1]},
                                   {"4", bw.read_gbps_by_streams[2]}, {"8", bw.read_gbps_by_streams[3]}};
    out["read_heap_gbps"] = bw.read_heap_gbps;
    out["read_buffer_bytes"] = bw.read_buffer_bytes;
    out["llc_bytes"] = jitgen::runtime::last_level_cache_bytes();
  }
  if (model_dir.empty() || prompts_file.empty()) {
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  jitgen::GenerateInput input;
  std::ifstream f(prompts_file);
  for (std::string line; std::getline(f, line);) {
    std::istringstream ss(line);
    std::vector<int32_t> row;
    for (int32_t id; ss >> id;) row.push_back(id);
    if (!row.empty()) input.input_ids.push_back(row);
  }
  const auto t_load = Clock::now();
  const jitgen::Model model = jitgen::Model::from_dir(model_dir);
  out["load_s"] = std::chrono::duration<double>(Clock::now() - t_load).count();
  const auto [load_rss_mib, load_anon_mib] = rss_and_anon_mib();
  out["load_rss_mib"] = load_rss_mib;
  out["load_anon_mib"] = load_anon_mib;
  if (const jitgen::cpu::PreparedWeights* p = model.impl().model->prepared()) {
    out["panels_mib"] = static_cast<double>(p->nbytes()) / (1 << 20);
    out["fp32_sources_mib"] = static_cast<double>(p->source_bytes()) / (1 << 20);  // kept linear data (tied head)
  }
  jitgen::GenerationConfig cfg;
  cfg.max_new_tokens = new_tokens;
  cfg.min_new_tokens = new_tokens;
  cfg.do_sample = false;
  jitgen::GenerateOptions opt;
  opt.mode = mode == "eager" ? jitgen::ExecutionMode::kEager : jitgen::ExecutionMode::kCompiled;
  const int B = static_cast<int>(input.input_ids.size()), T = static_cast<int>(input.input_ids[0].size());
  jitgen::GenerationConfig prefill_only = cfg;
  prefill_only.max_new_tokens = prefill_only.min_new_tokens = 1;
  std::vector<double> calls, prefill, decode, calls_cpu, prefill_cpu;
  jitgen::GenerateOutput r;
  for (int i = 0; i <= repeats; ++i) {
    const auto t0 = Clock::now();
    const double c0 = process_cpu_s();
    r = jitgen::generate(model, input, cfg, opt);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count(), cpu = process_cpu_s() - c0;
    if (i == 0) {
      out["first_call_s"] = s;
      out["compile_s"] = r.compile_ms / 1e3;
      continue;
    }
    calls.push_back(s);
    calls_cpu.push_back(cpu);
    prefill.push_back(r.prefill_ms / 1e3);
    decode.push_back(r.decode_ms / 1e3);
    const double c1 = process_cpu_s();
    jitgen::generate(model, input, prefill_only, opt);
    prefill_cpu.push_back(process_cpu_s() - c1);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  out["batch"] = B;
  out["prompt_len"] = T;
  out["new_tokens"] = new_tokens;
  out["steady_call_s"] = median(calls);
  out["prefill_s"] = median(prefill);
  out["decode_s"] = median(decode);
  out["calls_s"] = calls;
  const auto [anon_mib, huge_mib] = anon_and_huge_mib();
  out["anon_mib"] = anon_mib;
  out["anon_huge_mib"] = huge_mib;
  out["call_cpu_s"] = median(calls_cpu);
  out["decode_cpu_s"] = median(calls_cpu) - median(prefill_cpu);
  std::vector<std::vector<int32_t>> gen;
  for (const auto& row : r.sequences) gen.emplace_back(row.begin() + T, row.end());
  out["tokens"] = gen;
  const jitgen::ModelSpec& spec = model.impl().spec();
  const jitgen::runtime::DecodeShape shape{spec.n_layer, spec.hidden_size, spec.intermediate_size, spec.vocab_size,
                                           spec.kv_width()};
  // The bytes a decode step at mid context streams: the prepared panels in their stored format (quantized codes +
  // scales, or fp32 / bf16) but an untied embedding table's (a step gathers a few of its rows), fp32 biases and norms (bytes_per_decode_step at 0 bytes per weight and no context), and
  // the K and V cache of every layer at the model's real KV width (n_kv_head * head_dim: GQA reads far less than
  // n_embd), over at most a sliding-window layer's window.
  const double panels = static_cast<double>(model.impl().model->prepared()->step_bytes());
  const int64_t mid = T + new_tokens / 2;
  double kv = 0;
  for (int l = 0; l < spec.n_layer; ++l) {
    const int64_t w = spec.layer_window(l);
    kv += jitgen::runtime::kv_cache_read_bytes(spec.kv_width(), B, w > 0 ? std::min<int64_t>(w, mid) : mid);
  }
  out["weight_bytes"] = panels;
  out["kv_bytes_mid"] = kv;
  out["bytes_per_step_mid"] = panels + jitgen::runtime::bytes_per_decode_step(shape, 0, B, 0) + kv;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
