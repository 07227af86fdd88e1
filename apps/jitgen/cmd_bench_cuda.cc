// jitgen bench --device cuda: greedy generation on the GPU, forced length, over batch x new tokens x dtype:
//   cuda-eager       unfused plan, one launch per op from the host, no CUDA graph (our own eager mode)
//   cuda-graph-step  fused plan, the decode step replayed as one CUDA graph, host-driven loop
//   cuda-graph-loop  fused plan, the whole greedy loop as one CUDA graph (conditional WHILE node)
//   cuda-generate    generate() end to end (HF loop semantics on the host, compiled CUDA runner underneath)
// Runners are reused from the model's pool between calls, as generate() does (the first call builds it). Also measures the HBM
// bandwidth and the fp16 batch-1 decode roofline. Without CUDA support or a GPU it says so and exits 2.
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "jitgen/generate.h"
#include "models/model_impl.h"
#include "runtime/roofline.h"
#ifdef JITGEN_WITH_CUDA
#include "generate/loop.h"
#include "exec/cuda/cuda_model_state.h"
#include "exec/cuda/cuda_step_runner.h"
#endif

namespace jitgen::cli {

#ifdef JITGEN_WITH_CUDA
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
  return out;
}

// The same deterministic prompt ids as bench/run_peers.py (so HF peers see identical inputs).
std::vector<std::vector<int32_t>> peer_prompts(int B, int T, int V) {
  std::vector<std::vector<int32_t>> p(B, std::vector<int32_t>(T));
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) p[b][t] = static_cast<int32_t>((b * 7919 + t * 104729 + 12345) % 50000 + 100) % V;
  return p;
}

struct Call {
  double total_ms = 0, prefill_ms = 0, decode_ms = 0;
  std::vector<std::vector<int32_t>> tokens;
  bool one_graph = false;
};

Call run_once(const Model& m, const std::string& mode, cuda::Storage storage, int B, int T, int N) {
  const auto prompts = peer_prompts(B, T, m.info().vocab_size);
  Call c;
  const auto t0 = std::chrono::steady_clock::now();
  if (mode == "cuda-generate") {
    setenv("JITGEN_CUDA_DTYPE", cuda::storage_name(storage), 1);
    setenv("JITGEN_DEVICE", "cuda", 1);
    GenerationConfig cfg;
    cfg.max_new_tokens = N;
    cfg.min_new_tokens = N;
    cfg.eos_token_id = {};
    cfg.pad_token_id = 0;
    GenerateOptions o;
    o.mode = ExecutionMode::kCompiled;
    const GenerateOutput out = generate(m, GenerateInput{prompts, {}}, cfg, o);
    unsetenv("JITGEN_DEVICE");
    c.total_ms = ms_since(t0);
    c.prefill_ms = out.prefill_ms;
    c.decode_ms = c.total_ms - c.prefill_ms;
    for (const auto& s : out.sequences) c.tokens.emplace_back(s.begin() + T, s.end());
    return c;
  }
  // Runners come from the model's pool, as generate()'s do: buffers, plans and captured graphs are reused.
  CudaModelState& pool = CudaModelState::of(m.impl());
  const CudaRunnerOptions ro{storage, mode != "cuda-eager", 8};
  std::unique_ptr<CudaStepRunner> owned = pool.take_runner(B, T + N, ro);
  if (!owned) owned = std::make_unique<CudaStepRunner>(m, B, T + N, ro);
  CudaStepRunner& runner = *owned;
  std::vector<std::vector<int32_t>> pos(B, std::vector<int32_t>(T)), mask(B, std::vector<int32_t>(T, 1));
  std::vector<int32_t> next(B);
  for (int b = 0; b < B; ++b) next[b] = prompt_positions(mask[b], pos[b]);
  runner.step(prompts, pos, mask, true);
  c.prefill_ms = ms_since(t0);
  const auto t1 = std::chrono::steady_clock::now();
  GreedyLoopOptions o;
  o.max_new_tokens = N;
  o.one_graph = mode == "cuda-graph-loop";  // graph-step: one decode-graph replay per token
  const GreedyLoopResult r = runner.greedy_loop(next, o);
  c.decode_ms = ms_since(t1);
  c.total_ms = ms_since(t0);
  c.tokens = r.tokens;
  c.one_graph = r.one_graph;
  pool.give_back(std::move(owned));
  return c;
}

}  // namespace

int run_cuda_bench(const std::string& preset_list, const std::string& dtypes, const std::string& batches,
                   const std::string& news, int prompt_len, int reps, const std::string& json_path) {
  cuda::require_device();
  const std::string device = cuda::device_description();
  const cpu::WeightFormat format = cpu::weight_format_for_load();  // --quantize / JITGEN_WEIGHTS=int8|int4...
  const std::string weights = format.quant ? format.name() : "as dtype";
  fmt::print("jitgen bench --device cuda: {}, linear weights {}\n", device, weights);
  nlohmann::json doc = {{"device", device},         {"weights", weights},
                        {"prompt_len", prompt_len}, {"reps", reps},
                        {"results", nlohmann::json::array()}};
  const double bw = cuda::measure_device_bandwidth_gbps();
  doc["hbm_copy_gbps"] = bw;
  fmt::print("device-to-device copy bandwidth: {:.0f} GB/s\n", bw);
  std::stringstream presets(preset_list);
  fmt::print("{:<12} {:<5} {:<16} {:>5} {:>5} {:>10} {:>10} {:>10} {:>10} {:>11} {:>6}\n", "model", "dtype", "mode",
             "batch", "new", "first ms", "steady ms", "prefill", "decode", "tokens/s", "same");
  for (std::string preset; std::getline(presets, preset, ',');) {
    const Model m = Model::random_preset(preset, 0);
    for (int B : parse_list(batches))
      for (int N : parse_list(news))
        for (std::stringstream ds(dtypes); !ds.eof();) {
          std::string dname;
          std::getline(ds, dname, ',');
          const cuda::Storage storage = cuda::parse_storage(dname.c_str());
          std::vector<std::vector<int32_t>> reference;
          for (const std::string mode : {"cuda-eager", "cuda-graph-step", "cuda-graph-loop", "cuda-generate"}) {
            // A mode that fails (e.g. the driver refuses a graph) is recorded and the grid goes on.
            double first = 0;
            Call best;
            best.total_ms = 1e300;
            try {
              const auto t0 = std::chrono::steady_clock::now();
              run_once(m, mode, storage, B, prompt_len, N);
              first = ms_since(t0);
              for (int i = 0; i < std::max(1, reps); ++i) {
                Call c = run_once(m, mode, storage, B, prompt_len, N);
                if (c.total_ms < best.total_ms) best = std::move(c);
              }
            } catch (const std::exception& e) {
              fmt::print("{:<12} {:<5} {:<16} {:>5} {:>5} error: {}\n", preset, dname, mode, B, N, e.what());
              doc["results"].push_back({{"model", preset}, {"dtype", dname}, {"mode", mode}, {"batch", B},
                                        {"prompt_len", prompt_len}, {"new_tokens", N}, {"error", e.what()}});
              continue;
            }
            if (reference.empty()) reference = best.tokens;
            int same = 0;
            for (size_t r = 0; r < reference.size() && r < best.tokens.size(); ++r) same += reference[r] == best.tokens[r];
            const double tps = B * N * 1000.0 / best.total_ms;
            fmt::print("{:<12} {:<5} {:<16} {:>5} {:>5} {:>10.2f} {:>10.3f} {:>10.3f} {:>10.3f} {:>11.1f} {:>3}/{}\n",
                       preset, dname, mode, B, N, first, best.total_ms, best.prefill_ms, best.decode_ms, tps, same, B);
            doc["results"].push_back({{"model", preset}, {"dtype", dname}, {"mode", mode}, {"batch", B},
                                      {"prompt_len", prompt_len}, {"new_tokens", N}, {"first_call_ms", first},
                                      {"steady_ms", best.total_ms}, {"prefill_ms", best.prefill_ms},
                                      {"decode_ms", best.decode_ms}, {"tokens_per_s", tps},
                                      {"one_graph", best.one_graph}, {"same_tokens_as_eager", same},
                                      {"tokens", best.tokens}});
          }
        }
    const ModelSpec& c = m.impl().spec();
    const runtime::DecodeShape shape{c.n_layer, c.hidden_size, c.intermediate_size, c.vocab_size, c.kv_width()};
    doc["roofline_" + preset] = {{"bytes_per_token_f16_b1", runtime::bytes_per_token(shape, 2, 1, prompt_len + 64)},
                                 {"limit_tokens_per_s_f16_b1",
                                  bw * 1e9 / runtime::bytes_per_token(shape, 2, 1, prompt_len + 64)}};
  }
  if (!json_path.empty()) {
    std::ofstream(json_path) << doc.dump(1) << "\n";
    fmt::print("wrote {}\n", json_path);
  }
  return 0;
}
#else
int run_cuda_bench(const std::string&, const std::string&, const std::string&, const std::string&, int, int,
                   const std::string&) {
  throw_invalid_argument("--device cuda: this jitgen was built without CUDA (configure with -DJITGEN_CUDA=ON)");
}
#endif

}  // namespace jitgen::cli
