#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "core/error.hpp"
#include "core/output_file.hpp"
#include "run/pipeline.hpp"
#include "run/session.hpp"

namespace etch::cli {

namespace {

struct RunOptions {
  std::string model;
  std::vector<std::string> lora;
  PromptOptions prompt;
  int64_t tokens = 128;
  SamplingOptions sampling;
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
  const run::LoadedModel model = open_model(o.model, o.lora);
  const tokenize::Tokenizer tokenizer = model.tokenizer();
  const bool add_bos = model.vocab().add_bos && !o.no_bos;
  const std::vector<int32_t> prompt = prompt_tokens(o.prompt, tokenizer, add_bos);

  // Refused before any work: a prompt that cannot fit, with what -n asks for, in the context
  // (--ctx, else the model's trained context).
  const int64_t needed = static_cast<int64_t>(prompt.size()) + o.tokens;
  const int64_t limit = o.context > 0 ? o.context : model.trained_context();
  if (limit > 0 && needed > limit)
    fail("the prompt ({} tokens) plus -n {} needs {} tokens of context, past the {} of {}",
         prompt.size(), o.tokens, needed, limit,
         o.context > 0 ? "--ctx" : "the model's trained context");
  const int64_t context = o.context > 0 ? o.context : needed;
  const std::unique_ptr<run::Engine> engine =
      model.engine({.threads = o.threads, .context = context});

  run::Sampler sampler(o.sampling.resolve());

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
  add_count_option(*cmd, "-n,--tokens", options->tokens,
                   "Tokens to generate (0: only evaluate the prompt)", 0, kMaxTokens);
  options->sampling.add_to(*cmd);
  add_threads_option(*cmd, options->threads);
  add_lora_option(*cmd, options->lora);
  add_count_option(*cmd, "-c,--ctx", options->context,
                   "KV cache length (0: prompt + -n; at most the model's trained context)", 0,
                   kMaxTokens);
  cmd->add_flag("--ids", options->ids_only, "Print the generated token ids instead of text");
  cmd->add_flag("--no-bos", options->no_bos, "Do not prepend BOS to the prompt");
  cmd->add_flag("--ignore-eos", options->ignore_eos, "Keep generating after end-of-sequence");
  cmd->add_option("--logits-out", options->logits_out,
                  "Write the logits of every prompt position as little-endian float32 [T, vocab]");
  cmd->callback([options] { execute(*options); });
}

}  // namespace etch::cli
