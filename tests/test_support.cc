#include "test_support.h"

#include <random>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace jitgen::test {

std::string source_dir() { return JITGEN_SOURCE_DIR; }
std::string fixture_path(const std::string& name) { return std::string(JITGEN_FIXTURES_DIR) + "/" + name; }

nlohmann::json load_fixture(const std::string& name) {
  std::ifstream in(fixture_path(name));
  if (!in) throw std::runtime_error("missing fixture " + fixture_path(name));
  return nlohmann::json::parse(in);
}

std::vector<float> randn(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "jitgen-test-XXXXXX").string();
  if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CliResult run_cli(const std::string& args, const std::string& stdin_bytes) {
  TempDir tmp;
  const std::string in = tmp.file("stdin"), out = tmp.file("stdout"), err = tmp.file("stderr");
  write_file(in, stdin_bytes);
  const std::string emulator = JITGEN_CLI_EMULATOR;  // empty unless cross-built (qemu-user)
  const std::string cmd = (emulator.empty() ? "" : emulator + " ") + "'" + JITGEN_CLI_PATH + "' " + args + " <'" + in + "' >'" + out +
                          "' 2>'" + err + "'";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

std::string explain_greedy_parting(const Model& model, const std::vector<int32_t>& want,
                                   const std::vector<int32_t>& got, ExecutionMode mode) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  if (i == want.size() && i == got.size()) return "";
  std::ostringstream os;
  os << "sequences part at position " << i << ": want " << (i < want.size() ? want[i] : -1) << ", got "
     << (i < got.size() ? got[i] : -1);
  if (i == 0 || i >= want.size() || i >= got.size()) return os.str();
  const std::vector<int32_t> prefix(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(i));
  const int V = model.info().vocab_size;
  const auto run = [&] {
    const std::vector<float> all = model.forward_logits({prefix}, {}, mode)[0];
    return std::vector<float>(all.end() - V, all.end());  // the last position's logits
  };
  const std::vector<float> a = run(), b = run();
  const auto top = std::max_element(a.begin(), a.end()) - a.begin();
  os.precision(9);
  os << "; teacher-forced logits there: want's " << a[want[i]] << ", got's " << a[got[i]] << " (margin "
     << a[want[i]] - a[got[i]] << "), top " << top << "; a second identical call gave "
     << (std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0 ? "the same bits" : "OTHER BITS");
  return os.str();
}

}  // namespace jitgen::test
