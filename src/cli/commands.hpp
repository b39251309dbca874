// The etch command line: one add_*_command per subcommand, each in its own cmd_*.cpp.
// A command reports failure by throwing etch::Error; main prints "etch: <message>" and
// exits 1. Results go to stdout, logs and progress to stderr.
#pragma once

#include <CLI/CLI.hpp>

namespace etch::cli {

void add_info_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_chat_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_build_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_rtl_command(CLI::App& app);

}  // namespace etch::cli
