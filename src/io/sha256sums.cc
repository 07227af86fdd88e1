#include "io/sha256sums.h"

#include <openssl/evp.h>

#include <cctype>
#include <fstream>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "jitgen/error.h"

namespace jitgen::io {

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_invalid_file(fmt::format("{}: cannot be read (listed in SHA256SUMS)", path));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw Error(ErrorCode::kInternal, "sha256: OpenSSL digest initialisation failed");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw_invalid_file(fmt::format("{}: read error while computing its sha256", path));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1)
    throw Error(ErrorCode::kInternal, "sha256: OpenSSL digest finalisation failed");
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

int verify_sha256sums(const std::string& dir) {
  const std::string manifest = dir + "/SHA256SUMS";
  std::ifstream in(manifest);
  if (!in) throw_invalid_file(fmt::format("{}: not found (the built-in model folder must list its files' sha256)", manifest));
  std::string line;
  int n = 0, line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    // "<64 lower-case hex><space><space or *><name>", as sha256sum writes it (text or binary mode).
    bool ok = line.size() > 66 && (line[64] == ' ') && (line[65] == ' ' || line[65] == '*');
    for (int i = 0; ok && i < 64; ++i) ok = std::isxdigit(static_cast<unsigned char>(line[i])) && !std::isupper(line[i]);
    const std::string name = ok ? line.substr(66) : "";
    if (!ok || name.find('/') != std::string::npos || name == "." || name == "..")
      throw_invalid_file(fmt::format("{} line {}: expected \"<64 lower-case hex digits>  <file name>\"", manifest,
                                     line_no));
    const std::string want = line.substr(0, 64), path = dir + "/" + name;
    const std::string got = sha256_file(path);
    if (got != want)
      throw_invalid_file(fmt::format("{}: sha256 is {}, expected {} ({} line {}); the file is corrupt or was changed",
                                     path, got, want, manifest, line_no));
    ++n;
  }
  if (n == 0) throw_invalid_file(fmt::format("{}: lists no files", manifest));
  return n;
}

}  // namespace jitgen::io
