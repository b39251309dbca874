#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"
#include "core/output_file.hpp"
#include "run/pipeline.hpp"
#include "run/session.hpp"

namespace etch::cli {

namespace {

struct RunOptions {
  std::string model;
  PromptOptions prompt;
  int64_t tokens = 128;
  run::SamplingParams sampling;
  std::optional<uint64_t> seed;
  int threads = 0;
  int64_t context = 0;
  bool ids_only = false;
  bool no_bos = false;
  bool ignore_eos = false;
  std::string logits_out;
};

void write_logits(const std::string& path, std::span<const float> logits) {
  // The host is little-endian (x86-64, AArch64), so the float array is the file format.
  write_file_atomically(path, {reinterpret_cast<const char*>(logits.data()), logits.size_bytes()});
}

void execute(const RunOptions& o) {
  if (!o.logits_out.empty()) check_output_path(o.logits_out, {o.model});
  const run::LoadedModel model = open_model(o.model);
  const tokenize::Tokenizer tokenizer = model.tokenizer();
  const bool add_bos = model.vocab().add_bos && !o.no_bos;
  const std::vector<int32_t> prompt = prompt_tokens(o.prompt, tokenizer, add_bos);

  const int64_t needed = static_cast<int64_t>(prompt.size()) + o.tokens;
  const int64_t context = o.context > 0 ? o.context : needed;
  if (needed > context)
    fail("prompt ({} tokens) plus -n {} exceeds --ctx {}", prompt.size(), o.tokens, context);
  const std::unique_ptr<run::Engine> engine =
      model.engine({.threads = o.threads, .context = context});

  run::SamplingParams sampling = o.sampling;
  sampling.seed = o.seed ? *o.seed : std::random_device{}();
  if (!o.seed && sampling.temperature > 0) fmt::print(stderr, "etch: seed {}\n", sampling.seed);
  run::Sampler sampler(sampling);

  run::Session session(*engine, tokenizer);
  run::GenerationOptions generation;
  generation.max_tokens = o.tokens;
  generation.ignore_eos = o.ignore_eos;
  generation.prompt_logits = !o.logits_out.empty();
  session.start(prompt, generation, sampler);
  run::SessionStep step = session.step();  // the prompt, and the first token
  if (!o.logits_out.empty()) write_logits(o.logits_out, step.logits);
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    if (!o.ids_only)
      std::fwrite(step.text.data(), 1, step.text.size(), stdout);
    else if (step.token >= 0)
      fmt::print("{}{}", session.counts().generated > 1 ? " " : "", step.token);
    std::fflush(stdout);
    if (!session.running()) break;
    step = session.step();
  }
  fmt::print("\n");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t produced = session.counts().generated;
  if (produced > 0)
    fmt::print(stderr, "etch: {} tokens in {:.2f}s ({:.1f} tokens/s)\n", produced, seconds,
               static_cast<double>(produced) / seconds);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* cmd =
      app.add_subcommand("run", "Generate a continuation of a prompt, streamed to stdout");
  cmd->add_option("MODEL", options->model, "GGUF file, Hugging Face folder or .etch file")
      ->required();
  options->prompt.add_to(*cmd, true);
  cmd->add_option("-n,--tokens", options->tokens,
                  "Tokens to generate (0: only evaluate the prompt)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--temp", options->sampling.temperature, "Temperature (0: greedy)")
      ->capture_default_str();
  cmd->add_option("--top-k", options->sampling.top_k, "Keep the K most likely tokens (0: off)")
      ->capture_default_str();
  cmd->add_option("--top-p", options->sampling.top_p, "Nucleus sampling threshold (1: off)")
      ->capture_default_str();
  cmd->add_option("--min-p", options->sampling.min_p,
                  "Drop tokens below P x the top probability (0: off)")
      ->capture_default_str();
  cmd->add_option("--repeat-penalty", options->sampling.repeat_penalty,
                  "Penalty for recent tokens (1: off)")
      ->capture_default_str();
  cmd->add_option("--repeat-last-n", options->sampling.repeat_last_n,
                  "Window of the repetition penalty")
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "Random seed (default: random, printed to stderr)");
  cmd->add_option("-t,--threads", options->threads, "Threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-c,--ctx", options->context, "KV cache length (default: prompt + -n)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--ids", options->ids_only, "Print the generated token ids instead of text");
  cmd->add_flag("--no-bos", options->no_bos, "Do not prepend BOS to the prompt");
  cmd->add_flag("--ignore-eos", options->ignore_eos, "Keep generating after end-of-sequence");
  cmd->add_option("--logits-out", options->logits_out,
                  "Write the logits of every prompt position as little-endian float32 [T, vocab]");
  cmd->callback([options] { execute(*options); });
}

}  // namespace etch::cli
