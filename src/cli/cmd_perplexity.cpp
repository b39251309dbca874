#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/progress.hpp"
#include "run/run.hpp"

namespace etch::cli {

namespace {

struct PerplexityOptions {
  std::string model;
  std::string file;
  int64_t ctx = 512;
  int threads = 0;
  bool json = false;
};

void execute(const PerplexityOptions& o) {
  const run::LoadedModel model = open_model(o.model);
  const tokenize::Tokenizer tokenizer = model.tokenizer();
  const std::vector<int32_t> tokens =
      tokenizer.encode(read_file_text(o.file), model.vocab().add_bos);
  const std::unique_ptr<run::Engine> engine =
      model.engine({.threads = o.threads, .context = o.ctx});
  Progress progress("perplexity", static_cast<int64_t>(tokens.size()) / o.ctx);
  const run::PerplexityResult r =
      run::perplexity(*engine, tokens, o.ctx, model.vocab().add_bos ? model.vocab().bos_id : -1,
                      [&](int64_t done, int64_t) { progress.update(done); });
  progress.finish();
  if (o.json) {
    const nlohmann::json out = {{"ppl", r.ppl},
                                {"ppl_stderr", r.ppl * r.nll_stderr},
                                {"nll", r.nll_mean},
                                {"tokens", r.tokens_scored},
                                {"chunks", r.chunks},
                                {"ctx", r.ctx},
                                {"text_tokens", tokens.size()},
                                {"model", o.model},
                                {"file", o.file}};
    fmt::print("{}\n", out.dump(2));
  } else {
    fmt::print("perplexity {:.4f} +/- {:.4f} over {} tokens ({} chunks of {})\n", r.ppl,
               r.ppl * r.nll_stderr, r.tokens_scored, r.chunks, r.ctx);
  }
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
  auto options = std::make_shared<PerplexityOptions>();
  CLI::App* cmd =
      app.add_subcommand("perplexity", "Perplexity of a text file, by llama.cpp's method");
  cmd->add_option("MODEL", options->model, "GGUF file, Hugging Face folder or .etch file")
      ->required();
  cmd->add_option("-f,--file", options->file, "Text file")->required();
  cmd->add_option("-c,--ctx", options->ctx, "Tokens per chunk")
      ->check(CLI::Range(4, 1 << 20))
      ->capture_default_str();
  cmd->add_option("-t,--threads", options->threads, "Threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", options->json, "Print the result as JSON");
  cmd->callback([options] { execute(*options); });
}

}  // namespace etch::cli
