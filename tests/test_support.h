#pragma once
// Helpers shared by the tests: fixture paths, temporary folders, running the CLI.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jitgen/model.h"

namespace jitgen::test {

// n draws of N(0, scale^2) from std::mt19937(seed): the same numbers on every machine for a given libstdc++.
std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f);

std::string source_dir();                        // repository root
std::string fixture_path(const std::string& name);  // tests/fixtures/<name>
nlohmann::json load_fixture(const std::string& name);

// A fresh empty directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

struct CliResult {
  int exit_code;
  std::string out;
  std::string err;
};
// Runs the built `jitgen` CLI with `args` (shell-quoted by the caller) and optional stdin bytes.
CliResult run_cli(const std::string& args, const std::string& stdin_bytes = "");

// Why greedy tokens parted from the oracle's, for a failure message: the first step where `got` leaves `want` (both
// prompt + generated ids), the model's logits there for both tokens teacher-forced on `want`'s prefix (in `mode`, and
// once more: whether the same call gives the same bits), the margin, and the top token. A margin of ~1e-6 is a near
// tie that rounding flipped; a large one, or bits that change between two identical calls, is a bug. "" when equal.
std::string explain_greedy_parting(const Model& model, const std::vector<int32_t>& want,
                                   const std::vector<int32_t>& got, ExecutionMode mode);

}  // namespace jitgen::test
