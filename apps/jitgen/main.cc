// The jitgen command line. Errors go to stderr as one line with a non-zero exit code: 2 for a bad option or
// request (CLI11 parse errors included), 3 for a bad file, 4 for a model limit (jitgen/error.h).
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "jitgen/error.h"
#include "ops/cpu_kernels.h"

int main(int argc, char** argv) {
  using namespace jitgen;
  CLI::App app{"jitgen: Hugging Face-exact text generation for GPT-2, compiled, in C++"};
  app.require_subcommand(1);
  // The SIMD target the CPU kernels run on (JITGEN_SIMD forces one) and the ones this CPU could run.
  std::string targets;
  for (const std::string& t : cpu::simd_targets()) targets += (targets.empty() ? "" : ", ") + t;
  app.set_version_flag("--version", std::string("jitgen " JITGEN_VERSION " (SIMD target ") + cpu::simd_name() +
                                        "; this CPU runs: " + targets + ")");
  const cli::RegisterFn registry[] = {
      cli::register_generate,
      cli::register_tokenize,
      cli::register_make_model,
      cli::register_bench,
      cli::register_chat,
      cli::register_perplexity,
#ifdef JITGEN_WITH_SERVE
      cli::register_serve,
#endif
  };
  std::vector<cli::Subcommand> commands;
  for (cli::RegisterFn reg : registry) commands.push_back(reg(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "jitgen: error: " << e.what() << " (see --help)\n";
    return static_cast<int>(ErrorCode::kInvalidArgument);
  }

  try {
    for (const auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const Error& e) {
    std::cerr << "jitgen: error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "jitgen: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
