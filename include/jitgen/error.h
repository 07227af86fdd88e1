#pragma once
// The one exception type the library throws at its API boundary. Messages are single lines a user can
// act on: they name the file / field / option, the value seen and what was expected.
#include <stdexcept>
#include <string>

namespace jitgen {

enum class ErrorCode {
  kInvalidArgument = 2,  // a bad option or request (CLI exit code 2)
  kInvalidFile = 3,      // a file is missing, malformed or inconsistent (exit code 3)
  kLimit = 4,            // a request exceeds a model or memory limit (exit code 4)
  kInternal = 70,        // a broken invariant: a bug in jitgen
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }
  int exit_code() const { return static_cast<int>(code_); }

 private:
  ErrorCode code_;
};

// Shorthands used throughout the library.
[[noreturn]] inline void throw_invalid_argument(const std::string& m) { throw Error(ErrorCode::kInvalidArgument, m); }
[[noreturn]] inline void throw_invalid_file(const std::string& m) { throw Error(ErrorCode::kInvalidFile, m); }
[[noreturn]] inline void throw_limit(const std::string& m) { throw Error(ErrorCode::kLimit, m); }

}  // namespace jitgen

// Invariant check: a failure is a jitgen bug, never a user error.
#define JITGEN_CHECK(cond)                                                                              \
  do {                                                                                                  \
    if (!(cond))                                                                                        \
      throw ::jitgen::Error(::jitgen::ErrorCode::kInternal,                                             \
                            std::string("internal check failed: " #cond " at ") + __FILE__ + ":" +      \
                                std::to_string(__LINE__));                                              \
  } while (0)
