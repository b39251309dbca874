// The options several commands share, declared and range-checked in this one place, so that
// `--temp nan` or `--threads 1000` get the same answer from every command. A value out of its
// range is an argument error: "etch: --temp: ..." and exit 2 (main.cpp, docs/cli.md).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "run/run.hpp"

namespace etch::cli {

// Exit codes (docs/cli.md): 0 success, 1 a runtime error (bad input, a failed operation),
// 2 an argument error, 3 an internal error (a bug in etch).
constexpr int kExitRuntimeError = 1;
constexpr int kExitArgumentError = 2;
constexpr int kExitInternalError = 3;

// The largest token count any option takes (contexts, -n, prompt lengths): 16M tokens.
constexpr int64_t kMaxTokens = int64_t{1} << 24;

// A check that a number lies in [min, max], NaN and infinities refused.
CLI::Validator number_range(double min, double max);

// A check by a parser that throws etch::Error on a bad value: the error's message is the
// argument error's.
CLI::Validator parsed_by(std::function<void(const std::string&)> parse,
                         const std::string& description);

// A whole-number option checked to lie in [min, max].
CLI::Option* add_count_option(CLI::App& command, const std::string& names, int64_t& value,
                              const std::string& description, int64_t min, int64_t max);
CLI::Option* add_count_option(CLI::App& command, const std::string& names, int& value,
                              const std::string& description, int min, int max);

// -t/--threads: 0 means all cores; more threads than cores is capped, with a warning, since
// the extra threads only spin.
CLI::Option* add_threads_option(CLI::App& command, int& threads);

// --lora FILE_OR_FOLDER[:SCALE], repeatable: LoRA adapters (a PEFT folder or a GGUF LoRA file)
// applied at SCALE (default 1) times their alpha / rank; the syntax and the scale's range
// (run::parse_adapter_spec) are checked as arguments.
CLI::Option* add_lora_option(CLI::App& command, std::vector<std::string>& specs);

// The sampling options of run and chat (--temp, --top-k, --top-p, --min-p, --repeat-penalty,
// --repeat-last-n, --seed).
struct SamplingOptions {
  run::SamplingParams params;
  std::optional<int64_t> seed;  // -1 or absent: random
  void add_to(CLI::App& command);
  // The parameters with the seed resolved; a random seed is printed to stderr when it matters
  // (temperature > 0), so that the run can be repeated.
  run::SamplingParams resolve() const;
};

}  // namespace etch::cli
