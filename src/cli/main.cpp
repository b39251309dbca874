#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <exception>

#include "cli/commands.hpp"
#include "core/error.hpp"

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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const etch::Error& e) {
    fmt::print(stderr, "etch: {}\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "etch: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "etch: internal error: {}\n", e.what());
    return 2;
  }
  return 0;
}
