// Pieces shared by several subcommands: loading a model with a log line, reading the
// prompt options, streaming text without splitting UTF-8 characters.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compile/compile.hpp"
#include "import/import.hpp"
#include "run/run.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::cli {

// Loads MODEL (GGUF file or Hugging Face folder) and logs a one-line summary to stderr.
import::Model load_model_logged(const std::string& path);

// What run, perplexity and bench execute: a float model (GGUF file or Hugging Face folder),
// run by the float engine, or a .etch file, run by the chip's integer engine.
class ModelSource {
 public:
  explicit ModelSource(const std::string& path);  // loads and logs a one-line summary
  const import::ModelConfig& config() const;
  const tokenize::Vocabulary& vocab() const;
  std::unique_ptr<run::Engine> engine(run::EngineOptions options) const;

 private:
  std::optional<import::Model> model_;
  std::optional<compile::EtchModel> etch_;
};

// The text of -p TEXT or -f FILE (exactly one must be given).
struct PromptOptions {
  std::string text;
  std::string file;
  std::string ids;  // --prompt-ids, where the command offers it
  void add_to(CLI::App& command, bool with_ids);
};
std::string read_file_text(const std::string& path);

// Resolves the prompt to token ids: --prompt-ids as given, else the text tokenized.
std::vector<int32_t> prompt_tokens(const PromptOptions& prompt,
                                   const tokenize::Tokenizer& tokenizer, bool add_bos);

// Writes bytes to stdout holding back an incomplete trailing UTF-8 sequence until the
// token that completes it arrives, so a terminal never shows half a character.
class Utf8Stream {
 public:
  void write(const std::string& bytes);
  void finish();

 private:
  std::string pending_;
};

}  // namespace etch::cli
