// Tokenizer throughput on a few MB of varied text (prose with a Zipf word mix, code, whitespace runs,
// numbers, and every golden text: CJK, emoji, RTL, combining marks, odd spaces). Reports bytes/s.
//   build/bench/tokenizer_bench                        # all benchmarks
//   JITGEN_TOKENIZER_CORPUS_OUT=/tmp/c.json [JITGEN_TOKENIZER_IDS_OUT=/tmp/i.json] build/bench/tokenizer_bench
//     writes the documents (and our ids for them) as JSON and exits
//   JITGEN_TOKENIZER_DIR=<HF folder> build/bench/tokenizer_bench   # encode / decode with that tokenizer
//     (the corpus stays the same); bench/tokenizer_families_vs_hf.py runs it per tokenizer family
// bench/tokenizer_vs_hf.py runs HF tokenizers on the dumped corpus and prints ratios.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jitgen/tokenizer.h"

namespace {

struct Lcg {
  uint64_t s;
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 33);
  }
  double unit() { return next() / 2147483648.0; }
};

// The tokenizer under test: JITGEN_TOKENIZER_DIR's, else the vendored GPT-2 one.
const jitgen::Tokenizer& bench_tokenizer() {
  static const jitgen::Tokenizer t = [] {
    const char* dir = std::getenv("JITGEN_TOKENIZER_DIR");
    return dir != nullptr ? jitgen::Tokenizer::from_dir(dir) : jitgen::Tokenizer::builtin_gpt2();
  }();
  return t;
}

// Documents of ~4 KB; about 4 MB in all.
const std::vector<std::string>& corpus() {
  static const std::vector<std::string> docs = [] {
    const jitgen::Tokenizer& tok = jitgen::Tokenizer::builtin_gpt2();
    // Word list: vocabulary entries that are " " + lowercase letters, Zipf-weighted by id (lower id ~ more
    // frequent merge ~ more frequent word).
    std::vector<std::string> words;
    for (int id = 0; id < tok.vocab_size() && words.size() < 20000; ++id) {
      std::string b = tok.token_bytes(id);
      if (b.size() < 3 || b[0] != ' ') continue;
      bool alpha = true;
      for (size_t i = 1; i < b.size(); ++i) alpha &= (b[i] >= 'a' && b[i] <= 'z');
      if (alpha) words.push_back(b);
    }
    std::vector<std::string> extras;
    std::ifstream f(std::string(JITGEN_SOURCE_DIR) + "/tests/fixtures/tokenizer_goldens.json");
    nlohmann::json g = nlohmann::json::parse(f);
    for (const auto& c : g["encode"]) extras.push_back(c["text"].get<std::string>());
    const char* code[] = {"def f(x):\n    return x ** 2\n\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n",
                          "    if (err != nil) {\n        return err\n    }\n", "SELECT id, name FROM users WHERE age > 30;\n"};
    const char* punct[] = {".", ",", "!", "?", ";", ":", "'s", "'ll", " -", " (", ")"};
    Lcg rng{42};
    std::vector<std::string> out;
    size_t total = 0;
    while (total < (4u << 20)) {
      std::string d;
      while (d.size() < 4096) {
        double u = rng.unit();
        if (u < 0.80) {
          // Zipf-ish: index = N^u^2 skews toward frequent words.
          double r = rng.unit();
          size_t idx = static_cast<size_t>(static_cast<double>(words.size()) * r * r * r);
          std::string w = words[std::min(idx, words.size() - 1)];
          if (rng.unit() < 0.08) w[1] = static_cast<char>(w[1] - 32);  // Capitalized
          d += w;
          if (rng.unit() < 0.12) d += punct[rng.next() % 11];
          if (rng.unit() < 0.02) d += "\n\n";
        } else if (u < 0.88) {
          d += " " + std::to_string(rng.next() % 100000);
        } else if (u < 0.93) {
          d += code[rng.next() % 4];
        } else {
          d += " " + extras[rng.next() % extras.size()];
        }
      }
      total += d.size();
      out.push_back(std::move(d));
    }
    return out;
  }();
  return docs;
}

size_t corpus_bytes() {
  size_t n = 0;
  for (const auto& d : corpus()) n += d.size();
  return n;
}

// Steady state: the word cache is warm after the first pass, as in a long-running server.
void BM_EncodeDocs(benchmark::State& state) {
  const jitgen::Tokenizer& tok = bench_tokenizer();
  size_t tokens = 0;
  for (auto _ : state) {
    tokens = 0;
    for (const auto& d : corpus()) tokens += tok.encode(d, /*add_special_tokens=*/false).size();
    benchmark::DoNotOptimize(tokens);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus_bytes()));
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(tokens) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EncodeDocs)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// Cold cache: a fresh tokenizer per iteration (load time excluded).
void BM_EncodeDocsColdCache(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    jitgen::Tokenizer tok = jitgen::Tokenizer::from_dir(JITGEN_SOURCE_DIR "/third_party/gpt2-tokenizer");
    state.ResumeTiming();
    size_t tokens = 0;
    for (const auto& d : corpus()) tokens += tok.encode(d).size();
    benchmark::DoNotOptimize(tokens);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus_bytes()));
}
BENCHMARK(BM_EncodeDocsColdCache)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_EncodeBatchPadded(benchmark::State& state) {
  const jitgen::Tokenizer& tok = jitgen::Tokenizer::builtin_gpt2();
  jitgen::BatchEncodeOptions opt;
  opt.pad_to_multiple_of = 8;
  for (auto _ : state) {
    auto e = tok.encode_batch(corpus(), opt);
    benchmark::DoNotOptimize(e.input_ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus_bytes()));
}
BENCHMARK(BM_EncodeBatchPadded)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_Decode(benchmark::State& state) {
  const jitgen::Tokenizer& tok = bench_tokenizer();
  std::vector<std::vector<int32_t>> ids;
  for (const auto& d : corpus()) ids.push_back(tok.encode(d));
  for (auto _ : state) {
    size_t n = 0;
    for (const auto& v : ids) n += tok.decode(v).size();
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus_bytes()));
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_LoadBuiltin(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(jitgen::Tokenizer::builtin_gpt2());
}
BENCHMARK(BM_LoadBuiltin)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace

int main(int argc, char** argv) {
  if (const char* out = std::getenv("JITGEN_TOKENIZER_CORPUS_OUT")) {
    std::ofstream(out) << nlohmann::json(corpus()).dump();
    if (const char* ids_out = std::getenv("JITGEN_TOKENIZER_IDS_OUT")) {
      std::vector<std::vector<int32_t>> ids;
      for (const auto& d : corpus()) ids.push_back(bench_tokenizer().encode(d, /*add_special_tokens=*/false));
      std::ofstream(ids_out) << nlohmann::json(ids).dump();
    }
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
