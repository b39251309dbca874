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
  bool parse_special = false;
};

void execute(const TokenizeOptions& o) {
  const tokenize::Tokenizer tokenizer = run::load_tokenizer(o.model);
  const bool add_bos = tokenizer.vocab().add_bos && !o.no_bos;
  // Control tokens written in the text ("<|eot_id|>") become their ids only when asked.
  const bool text_given = !o.prompt.text.empty() || !o.prompt.file.empty();
  const std::vector<int32_t> ids =
      o.parse_special && text_given
          ? tokenizer.encode(o.prompt.file.empty() ? o.prompt.text : read_file_text(o.prompt.file),
                             add_bos, true)
          : prompt_tokens(o.prompt, tokenizer, add_bos);
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
  cmd->add_option("MODEL", options->model, "GGUF file, Hugging Face folder or .etch file")
      ->required();
  options->prompt.add_to(*cmd, false);
  cmd->add_flag("--no-bos", options->no_bos, "Do not prepend BOS");
  auto* ids = cmd->add_flag("--ids", options->ids, "Print ids (the default)");
  cmd->add_flag("--pieces", options->pieces, "Print the pieces instead of ids")->excludes(ids);
  cmd->add_flag("--parse-special", options->parse_special,
                "Control tokens written in the text (<|eot_id|>, <s>, ...) become their ids");
  cmd->callback([options] { execute(*options); });
}

}  // namespace etch::cli
