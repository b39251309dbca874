#include "cli/options.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <random>
#include <thread>

#include "core/error.hpp"
#include "run/pipeline.hpp"

namespace etch::cli {

namespace {

template <typename T>
std::optional<T> parse_integer(const std::string& text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return value;
}

template <typename T>
CLI::Validator integer_range(T min, T max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        const std::optional<T> value = parse_integer<T>(text);
        if (!value) return fmt::format("'{}' is not a whole number", text);
        if (*value < min || *value > max)
          return fmt::format("{} is out of range: give {} to {}", text, min, max);
        return "";
      },
      fmt::format("{}..{}", min, max));
}

template <typename T>
CLI::Option* add_integer_option(CLI::App& command, const std::string& names, T& value,
                                const std::string& description, T min, T max) {
  return command.add_option(names, value, description)
      ->check(integer_range<T>(min, max))
      ->capture_default_str();
}

}  // namespace

CLI::Validator number_range(double min, double max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        const std::optional<double> v = parse_number(text);
        if (!v) return fmt::format("'{}' is not a number", text);
        if (!(*v >= min && *v <= max))
          return fmt::format("{} is out of range: give {} to {}", text, min, max);
        return "";
      },
      fmt::format("{}..{}", min, max));
}

CLI::Option* add_count_option(CLI::App& command, const std::string& names, int64_t& value,
                              const std::string& description, int64_t min, int64_t max) {
  return add_integer_option<int64_t>(command, names, value, description, min, max);
}

CLI::Option* add_count_option(CLI::App& command, const std::string& names, int& value,
                              const std::string& description, int min, int max) {
  return add_integer_option<int>(command, names, value, description, min, max);
}

CLI::Option* add_threads_option(CLI::App& command, int& threads) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return command.add_option("-t,--threads", threads, "Threads (default 0: all cores)")
      ->check(integer_range<int>(0, 1 << 16))
      ->transform(CLI::Validator(
          [cores](std::string& text) -> std::string {
            if (parse_integer<int>(text).value_or(0) > cores) {
              fmt::print(stderr,
                         "etch: warning: --threads {} is more than the {} cores; using {}\n", text,
                         cores, cores);
              text = std::to_string(cores);
            }
            return "";
          },
          ""));
}

void SamplingOptions::add_to(CLI::App& command) {
  auto number = [&](const std::string& names, float& target, const std::string& description,
                    double min, double max) {
    command.add_option(names, target, description)
        ->check(number_range(min, max))
        ->capture_default_str();
  };
  number("--temp", params.temperature, "Temperature (0: greedy)", 0, 100);
  add_count_option(command, "--top-k", params.top_k, "Keep the K most likely tokens (0: off)", 0,
                   1 << 30);
  number("--top-p", params.top_p, "Nucleus sampling threshold (1: off)", 0, 1);
  number("--min-p", params.min_p, "Drop tokens below P x the top probability (0: off)", 0, 1);
  number("--repeat-penalty", params.repeat_penalty, "Penalty for recent tokens (1: off)", 0.01,
         100);
  add_count_option(command, "--repeat-last-n", params.repeat_last_n,
                   "Window of the repetition penalty", 0, 1 << 24);
  command.add_option("--seed", seed, "Random seed (default, or -1: random, printed to stderr)")
      ->check(integer_range<int64_t>(-1, std::numeric_limits<int64_t>::max()));
}

run::SamplingParams SamplingOptions::resolve() const {
  run::SamplingParams resolved = params;
  if (seed && *seed >= 0) {
    resolved.seed = static_cast<uint64_t>(*seed);
    return resolved;
  }
  resolved.seed = std::random_device{}();
  if (resolved.temperature > 0) fmt::print(stderr, "etch: seed {}\n", resolved.seed);
  return resolved;
}

CLI::Validator parsed_by(std::function<void(const std::string&)> parse,
                         const std::string& description) {
  return CLI::Validator(
      [parse = std::move(parse)](std::string& text) -> std::string {
        try {
          parse(text);
        } catch (const Error& e) {
          return e.what();
        }
        return "";
      },
      description);
}

CLI::Option* add_lora_option(CLI::App& command, std::vector<std::string>& specs) {
  return command
      .add_option("--lora", specs,
                  "LoRA adapter FILE_OR_FOLDER[:SCALE] (PEFT folder or GGUF LoRA; scale default 1, "
                  "0 turns it off); repeatable")
      ->check(parsed_by([](const std::string& text) { run::parse_adapter_spec(text); },
                        "FILE_OR_FOLDER[:SCALE]"));
}

}  // namespace etch::cli
