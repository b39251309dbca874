// Pieces shared by several subcommands: opening a model with a log line, reading the prompt
// options.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "run/pipeline.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::cli {

// Opens MODEL (GGUF file, Hugging Face folder or .etch file) with the --lora adapters and logs
// a one-line summary to stderr.
run::LoadedModel open_model(const std::string& path, const std::vector<std::string>& lora = {});

// The text of -p TEXT or -f FILE (exactly one must be given).
struct PromptOptions {
  std::string text;
  std::string file;
  std::string ids;  // --prompt-ids, where the command offers it
  void add_to(CLI::App& command, bool with_ids);
};
// The whole of a text file; throws Error for a folder, an unreadable file (with the OS
// reason) or an empty one.
std::string read_file_text(const std::string& path);

// Prints `value` on stdout, indented; always valid JSON: bytes that are not UTF-8 (in a file
// name, a token, a metadata string) are replaced by U+FFFD instead of failing the dump.
void print_json(const nlohmann::json& value);

// Resolves the prompt to token ids: --prompt-ids as given, else the text tokenized.
std::vector<int32_t> prompt_tokens(const PromptOptions& prompt,
                                   const tokenize::Tokenizer& tokenizer, bool add_bos);

}  // namespace etch::cli
