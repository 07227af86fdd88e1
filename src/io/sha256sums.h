#pragma once
// SHA256SUMS manifests (the format `sha256sum` writes and `sha256sum -c` checks: "<64 hex>  <name>" per line),
// used to check the built-in model folder at load. Errors are one line naming the file (kInvalidFile).
#include <string>

namespace jitgen::io {

// The lower-case hex sha256 of a file's bytes (read in 1 MiB pieces). Throws kInvalidFile if it cannot be read.
std::string sha256_file(const std::string& path);

// Checks every line of DIR/SHA256SUMS against the file it names (relative to DIR). A mismatch throws
// "DIR/NAME: sha256 is X, expected Y (DIR/SHA256SUMS line N); the file is corrupt or was changed"; a missing
// manifest, an unreadable file or a malformed line (not "<64 hex>  <name>") also throws, naming the file and
// line. Returns the number of files checked (at least one, else it throws).
int verify_sha256sums(const std::string& dir);

}  // namespace jitgen::io
