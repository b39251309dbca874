#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "core/progress.hpp"
#include "run/run.hpp"

namespace etch::cli {

namespace {

struct PerplexityOptions {
  std::string model;
  std::vector<std::string> lora;
  std::string file;
  int64_t ctx = 512;
  int threads = 0;
  bool json = false;
};

void execute(const PerplexityOptions& o) {
  const run::LoadedModel model = open_model(o.model, o.lora);
  const tokenize::Tokenizer tokenizer = model.tokenizer();
  // The engine first: a context past the model's is refused before the text is read.
  const std::unique_ptr<run::Engine> engine =
      model.engine({.threads = o.threads, .context = o.ctx});
  const std::vector<int32_t> tokens =
      tokenizer.encode(read_file_text(o.file), model.vocab().add_bos);
  Progress progress("perplexity", static_cast<int64_t>(tokens.size()) / o.ctx, "chunks");
  const run::PerplexityResult r =
      run::perplexity(*engine, tokens, o.ctx, model.vocab().add_bos ? model.vocab().bos_id : -1,
                      [&](int64_t done, int64_t, double ppl) {
                        progress.update(done, fmt::format("ppl {:.4f} so far", ppl));
                      });
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
    print_json(out);
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
  add_count_option(*cmd, "-c,--ctx", options->ctx,
                   "Tokens per chunk (at most the model's trained context)", 4, kMaxTokens);
  add_threads_option(*cmd, options->threads);
  add_lora_option(*cmd, options->lora);
  cmd->add_flag("--json", options->json, "Print the result as JSON");
  cmd->callback([options] { execute(*options); });
}

}  // namespace etch::cli
