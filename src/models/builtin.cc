// The built-in default model folder (models/kjv-llama-5m): where it is found and its sha256 check.
#include <filesystem>

#include <fmt/format.h>

#include "io/sha256sums.h"
#include "jitgen/error.h"
#include "jitgen/model.h"

namespace jitgen {

namespace {
namespace fs = std::filesystem;

// The folder of the running executable (Linux /proc/self/exe); empty when unknown.
fs::path executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

}  // namespace

std::string Model::builtin_default_dir() {
  // An installed binary's data first: a build tree's binary has no ../share/jitgen, so it takes the source tree.
  const fs::path installed = executable_dir() / ".." / "share" / "jitgen" / "kjv-llama-5m";
  const fs::path source = JITGEN_BUILTIN_MODEL_DIR;
  std::string dir;
  if (!executable_dir().empty() && fs::is_regular_file(installed / "SHA256SUMS"))
    dir = installed.lexically_normal().string();
  else if (fs::is_directory(source))
    dir = source.string();
  else
    throw_invalid_file(fmt::format("the built-in model folder kjv-llama-5m is missing (looked in {} and {}); "
                                   "reinstall jitgen or pass --model DIR",
                                   installed.lexically_normal().string(), source.string()));
  io::verify_sha256sums(dir);  // ~10 ms for the 10 MB folder
  return dir;
}

Model Model::builtin_default(const std::string& dir) {
  io::verify_sha256sums(dir);  // ~10 ms for the 10 MB folder
  return from_dir(dir);
}

Model Model::builtin_default() { return from_dir(builtin_default_dir()); }

}  // namespace jitgen
