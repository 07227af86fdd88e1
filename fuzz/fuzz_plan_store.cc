// The persistent plan cache loader (PlanStore::load, `--plan-cache DIR`) on arbitrary bytes. The store is made
// for the built-in default model (tiny preset: 2 layers, 4 heads, n_embd 64, 256 positions, vocab 50257, the
// model the seed plans in fuzz/corpus/fuzz_plan_store/ were written by). A file either loads or is ignored
// with one warning line on stderr ("jitgen: warning: ignoring plan cache file ...; rebuilding it"), and
// nothing may escape. A plan that loads is then used the way CompiledStepRunner uses it: an arena of exactly
// arena_bytes (its own heap block, so ASan sees any kernel reaching past it), the declared step inputs, one
// run of every kernel, and the output read back. That is what "never trusted" must guarantee.
//
// The compile key is taken from the file's own "key" field when it parses as cpu/f32/B=b/T=t/S=s/last|all
// with small b, t, s (so mutations of the key reach the node checks instead of stopping at "made for another
// shape bucket"); otherwise cpu/f32/B=1/T=1/S=64/last. Keys with a token select ("/greedy", "/beam") are not
// built: their select_state input is the runner's TokenSelect object, which this harness does not make, so
// select_tokens / reorder_rows plans stop at "input does not match the step".
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "fuzz_util.h"
#include "graph/compile_cache.h"
#include "graph/plan_store.h"

namespace {

using jitgen::DType;
using jitgen::Shape;
using jitgen::Tensor;

// The built-in default model ("tiny" preset); its fingerprint is the one in the seed plans.
constexpr int kLayers = 2, kHeads = 4, kEmbd = 64, kPositions = 256, kVocab = 50257;
constexpr char kFingerprint[] = "2e51eb09322d89cd";

std::map<std::string, Tensor> default_model_weights() {
  const int64_t C = kEmbd;
  std::map<std::string, Tensor> w;
  auto add = [&](const std::string& name, Shape shape) { w[name] = Tensor::zeros(std::move(shape)); };
  add("wte.weight", {kVocab, C});
  add("wpe.weight", {kPositions, C});
  for (int l = 0; l < kLayers; ++l) {
    const std::string h = fmt::format("h.{}.", l);
    add(h + "ln_1.weight", {C});
    add(h + "ln_1.bias", {C});
    add(h + "attn.c_attn.weight", {C, 3 * C});
    add(h + "attn.c_attn.bias", {3 * C});
    add(h + "attn.c_proj.weight", {C, C});
    add(h + "attn.c_proj.bias", {C});
    add(h + "ln_2.weight", {C});
    add(h + "ln_2.bias", {C});
    add(h + "mlp.c_fc.weight", {C, 4 * C});
    add(h + "mlp.c_fc.bias", {4 * C});
    add(h + "mlp.c_proj.weight", {4 * C, C});
    add(h + "mlp.c_proj.bias", {C});
  }
  add("ln_f.weight", {C});
  add("ln_f.bias", {C});
  w["lm_head.weight"] = w["wte.weight"];  // tied, as in the model
  return w;
}

jitgen::CompileKey key_of(std::string_view bytes) {
  jitgen::CompileKey key{"cpu", "f32", 1, 1, 64, true, ""};
  const size_t at = bytes.find("\"key\":\"");
  if (at == std::string_view::npos) return key;
  const std::string_view rest = bytes.substr(at + 7, 64);
  const std::string s(rest.substr(0, rest.find('"')));
  int b = 0, t = 0, cap = 0;
  char tail[8] = {};
  if (std::sscanf(s.c_str(), "cpu/f32/B=%d/T=%d/S=%d/%4s", &b, &t, &cap, tail) != 4) return key;
  if (b < 1 || b > 8 || t < 1 || t > kPositions || cap < 1 || cap > kPositions) return key;
  if (std::strcmp(tail, "last") != 0 && std::strcmp(tail, "all") != 0) return key;
  return jitgen::CompileKey{"cpu", "f32", b, t, cap, tail[0] == 'l', ""};
}

// The step inputs CompiledStepRunner declares for `key`.
jitgen::InputDecls input_decls(const jitgen::CompileKey& k) {
  jitgen::InputDecls in;
  in["input_ids"] = {{k.rows, k.step_tokens}, DType::kI32};
  in["position_ids"] = {{k.rows, k.step_tokens}, DType::kI32};
  in["cache_pos"] = {{k.rows}, DType::kI32};
  in["key_mask"] = {{k.rows, k.capacity}, DType::kI32};
  for (int l = 0; l < kLayers; ++l) {
    const Shape kv = {k.rows, kHeads, k.capacity, kEmbd / kHeads};
    in[fmt::format("k_cache.{}", l)] = {kv, DType::kF32};
    in[fmt::format("v_cache.{}", l)] = {kv, DType::kF32};
  }
  return in;
}

void run_once(const jitgen::Executable& exe, const jitgen::InputDecls& decls) {
  // The arena the runner would allocate, exactly arena_bytes long (64-byte aligned like Tensor storage).
  const size_t arena_bytes = exe.arena_bytes();
  struct AlignedDelete {
    void operator()(char* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::unique_ptr<char[], AlignedDelete> arena(new (std::align_val_t(64)) char[arena_bytes == 0 ? 1 : arena_bytes]());
  std::vector<Tensor> inputs;
  jitgen::RunContext ctx;
  ctx.arena = arena.get();
  for (const std::string& name : exe.input_names()) {
    const auto& [shape, dtype] = decls.at(name);  // the loader only accepts declared inputs
    Tensor t = Tensor::zeros(shape, dtype);
    if (name == "key_mask")
      for (int64_t i = 0; i < t.numel(); ++i) t.i32()[i] = 1;
    ctx.inputs.push_back(t.data());
    inputs.push_back(std::move(t));
  }
  exe.run(ctx);
  const float* out = exe.output(ctx);
  const int64_t n = jitgen::shape_numel(exe.output_shape());
  volatile float sink = n > 0 ? out[0] + out[n - 1] : 0.f;
  (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = jitgen::fuzz::shm_path("plans");
  static const jitgen::PlanStore store(dir, kFingerprint, default_model_weights());
  // The loader's warnings go to std::cerr: captured, so each one can be checked (and the log stays small).
  static std::stringbuf warnings;
  static std::streambuf* const original = std::cerr.rdbuf(&warnings);
  (void)original;

  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const jitgen::CompileKey key = key_of(bytes);
  const jitgen::InputDecls decls = input_decls(key);
  // One file per key: removed after each load, so /dev/shm does not fill up with every key the fuzzer spells.
  const std::string path = store.path_for(key);
  jitgen::fuzz::write_file(path, bytes);
  warnings.str("");
  jitgen::fuzz::expect_clean([&] {
    const std::shared_ptr<const jitgen::Executable> exe = store.load(key, decls);
    const std::string w = warnings.str();
    if (exe == nullptr) {
      // Ignored: exactly one warning line saying so.
      if (w.rfind("jitgen: warning: ignoring plan cache file ", 0) != 0 || w.find('\n') != w.size() - 1) {
        std::fprintf(stderr, "plan rejected without one warning line: [%s]\n", w.c_str());
        __builtin_trap();
      }
      return;
    }
    if (!w.empty()) __builtin_trap();  // loaded, yet warned
    run_once(*exe, decls);
  });
  std::remove(path.c_str());
  return 0;
}
