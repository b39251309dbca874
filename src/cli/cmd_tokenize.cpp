#include <fmt/format.h>

#include <memory>

#include "cli/commands.hpp"
#include "cli/common.hpp"

namespace etch::cli {

namespace {

struct TokenizeOptions {
  std::string model;
  PromptOptions prompt;
  bool no_bos = false;
  bool ids = false;
  bool pieces = false;
};

void execute(const TokenizeOptions& o) {
  const import::Model model = import::load_model(o.model);
  const tokenize::Tokenizer tokenizer(model.vocab);
  const std::vector<int32_t> ids = prompt_tokens(o.prompt, tokenizer, model.vocab.add_bos && !o.no_bos);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ' ';
    line += o.pieces ? tokenizer.piece(ids[i]) : std::to_string(ids[i]);
  }
  fmt::print("{}\n", line);
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids (or pieces) of a text");
  cmd->add_option("MODEL", options->model, "GGUF file or Hugging Face folder")->required();
  options->prompt.add_to(*cmd, false);
  cmd->add_flag("--no-bos", options->no_bos, "Do not prepend BOS");
  auto* ids = cmd->add_flag("--ids", options->ids, "Print ids (the default)");
  cmd->add_flag("--pieces", options->pieces, "Print the pieces instead of ids")->excludes(ids);
  cmd->callback([options] { execute(*options); });
}

}  // namespace etch::cli
