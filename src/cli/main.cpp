#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <exception>
#include <string>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "core/error.hpp"

namespace {

// CLI11's message, made plain where it is not: a word that is no command is named as such.
std::string describe(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr && app.get_subcommands().empty()) {
    std::string commands;
    for (const CLI::App* command : app.get_subcommands({}))
      commands += (commands.empty() ? "" : ", ") + command->get_name();
    if (argc > 1 && argv[1][0] != '-')
      return fmt::format("'{}' is not a command; the commands are {}", argv[1], commands);
    return fmt::format("no command given; the commands are {}", commands);
  }
  return e.what();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "etch: compile a language model into a hardwired-model chip, and run, plan and verify it"};
  app.set_version_flag("--version", "etch 0.1.0");
  app.require_subcommand(1);
  app.fallthrough(false);
  etch::cli::add_info_command(app);
  etch::cli::add_run_command(app);
  etch::cli::add_tokenize_command(app);
  etch::cli::add_chat_command(app);
  etch::cli::add_perplexity_command(app);
  etch::cli::add_bench_command(app);
  etch::cli::add_plan_command(app);
  etch::cli::add_build_command(app);
  etch::cli::add_serve_command(app);
  etch::cli::add_rtl_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "etch: {}\n", describe(app, e, argc, argv));
    return etch::cli::kExitArgumentError;
  } catch (const etch::Error& e) {
    fmt::print(stderr, "etch: {}\n", e.what());
    return etch::cli::kExitRuntimeError;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "etch: out of memory\n");
    return etch::cli::kExitRuntimeError;
  } catch (const std::exception& e) {
    fmt::print(stderr, "etch: internal error (please report it): {}\n", e.what());
    return etch::cli::kExitInternalError;
  }
  return 0;
}
