#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "core/progress.hpp"
#include "run/run.hpp"

namespace etch::cli {

namespace {

struct BenchOptions {
  std::string model;
  std::vector<std::string> lora;
  int threads = 0;
  int64_t prompt_tokens = 512;
  int64_t gen_tokens = 128;
  int repetitions = 3;
  int sequences = 1;
  bool json = false;
};

struct Stat {
  double mean = 0, stddev = 0;
};

Stat summarize(const std::vector<double>& v) {
  Stat s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.stddev += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(s.stddev / static_cast<double>(v.size() - 1)) : 0;
  return s;
}

void execute(const BenchOptions& o) {
  const run::LoadedModel model = open_model(o.model, o.lora);
  const int64_t trained = model.trained_context();
  const int64_t context = trained > 0 ? std::min(o.prompt_tokens + o.gen_tokens, trained)
                                      : o.prompt_tokens + o.gen_tokens;
  const int64_t prompt_len = std::min(o.prompt_tokens, context);
  const int64_t gen_len = std::min(o.gen_tokens, context);
  if (prompt_len < o.prompt_tokens || gen_len < o.gen_tokens)
    fmt::print(stderr, "etch: note: measuring within the model's trained context of {} tokens\n",
               trained);
  const std::unique_ptr<run::Engine> engine_owner =
      model.engine({.threads = o.threads, .context = context, .sequences = o.sequences});
  run::Engine& engine = *engine_owner;

  // Token ids do not change the work a dense model does; a fixed seed keeps runs alike.
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> pick(0,
                                              static_cast<int32_t>(model.config().vocab_size - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(prompt_len));
  for (auto& id : prompt) id = pick(rng);

  using clock = std::chrono::steady_clock;
  std::vector<double> pp, tg;
  Progress progress("bench", o.repetitions * 2, "runs");
  engine.eval(std::span<const int32_t>(prompt.data(), std::min<size_t>(prompt.size(), 8)),
              false);  // warm-up
  for (int r = 0; r < o.repetitions; ++r) {
    engine.reset();
    auto start = clock::now();
    engine.eval(prompt, false);
    pp.push_back(static_cast<double>(prompt_len) /
                 std::chrono::duration<double>(clock::now() - start).count());
    progress.update(2 * r + 1);

    // Every sequence decodes one token a step, all in one batched step (the chip's pipeline
    // shares each weight read among them); tokens/s counts all of them.
    std::vector<int32_t> ids(static_cast<size_t>(o.sequences), prompt[0]);
    std::vector<run::SequenceTokens> batch;
    for (int s = 0; s < o.sequences; ++s) {
      engine.reset_sequence(s);
      batch.push_back({.sequence = s, .tokens = {&ids[static_cast<size_t>(s)], 1}});
    }
    const auto vocab = static_cast<size_t>(model.config().vocab_size);
    start = clock::now();
    for (int64_t i = 0; i < gen_len; ++i) {
      const std::span<const float> logits = engine.step(batch);
      for (size_t s = 0; s < ids.size(); ++s)
        ids[s] = run::argmax(logits.subspan(s * vocab, vocab));
    }
    tg.push_back(static_cast<double>(gen_len * o.sequences) /
                 std::chrono::duration<double>(clock::now() - start).count());
    progress.update(2 * r + 2);
  }
  progress.finish();
  const Stat p = summarize(pp), g = summarize(tg);
  if (o.json) {
    const nlohmann::json out = {{"model", o.model},
                                {"threads", engine.threads()},
                                {"prompt_tokens", prompt_len},
                                {"gen_tokens", gen_len},
                                {"repetitions", o.repetitions},
                                {"sequences", o.sequences},
                                {"prompt_tokens_per_second", p.mean},
                                {"prompt_tokens_per_second_stddev", p.stddev},
                                {"decode_tokens_per_second", g.mean},
                                {"decode_tokens_per_second_stddev", g.stddev}};
    print_json(out);
    return;
  }
  fmt::print("{:<10} {:>8} {:>8} {:>16}\n", "test", "tokens", "threads", "tokens/s");
  fmt::print("{:<10} {:>8} {:>8} {:>9.1f} ± {:<6.1f}\n", "prompt", prompt_len, engine.threads(),
             p.mean, p.stddev);
  fmt::print("{:<10} {:>8} {:>8} {:>9.1f} ± {:<6.1f}\n", "decode", gen_len, engine.threads(),
             g.mean, g.stddev);
  if (o.sequences > 1)
    fmt::print("decode: {} sequences in each step; {:.1f} tokens/s per sequence\n", o.sequences,
               g.mean / o.sequences);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* cmd =
      app.add_subcommand("bench", "Measure prompt processing and decode speed (tokens/s)");
  cmd->add_option("MODEL", options->model, "GGUF file, Hugging Face folder or .etch file")
      ->required();
  add_threads_option(*cmd, options->threads);
  add_lora_option(*cmd, options->lora);
  add_count_option(*cmd, "-p,--prompt-tokens", options->prompt_tokens, "Prompt length", 1,
                   kMaxTokens);
  add_count_option(*cmd, "-n,--gen-tokens", options->gen_tokens, "Tokens decoded one at a time", 1,
                   kMaxTokens);
  add_count_option(*cmd, "-r,--repetitions", options->repetitions, "Repetitions", 1, 1000);
  add_count_option(*cmd, "-s,--sequences", options->sequences,
                   "Sequences decoded together, one token each per step (decode tokens/s counts "
                   "all)",
                   1, 4096);
  cmd->add_flag("--json", options->json, "Print JSON");
  cmd->callback([options] { execute(*options); });
}

}  // namespace etch::cli
