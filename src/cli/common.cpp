#include "cli/common.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace etch::cli {

run::LoadedModel open_model(const std::string& path, const std::vector<std::string>& lora) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<run::AdapterSpec> adapters;
  for (const std::string& spec : lora) adapters.push_back(run::parse_adapter_spec(spec));
  run::LoadedModel model(path, adapters);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(stderr, "etch: loaded {} ({}) in {:.2f}s\n", path, model.description(), seconds);
  return model;
}

void PromptOptions::add_to(CLI::App& command, bool with_ids) {
  auto* p = command.add_option("-p,--prompt", text, "Prompt text");
  auto* f = command.add_option("-f,--file", file, "Read the prompt text from FILE");
  p->excludes(f);
  if (with_ids) {
    auto* i = command.add_option("--prompt-ids", ids,
                                 "Prompt as token ids, e.g. \"1 2 3\" (no BOS is added)");
    i->excludes(p)->excludes(f);
  }
}

std::string read_file_text(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail_file(path, "is a folder, not a text file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_file(path, "cannot open: {}", std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) fail_file(path, "read error: {}", std::strerror(errno));
  if (out.view().empty()) fail_file(path, "is empty; a text is needed");
  return out.str();
}

void print_json(const nlohmann::json& value) {
  fmt::print("{}\n", value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::vector<int32_t> prompt_tokens(const PromptOptions& prompt,
                                   const tokenize::Tokenizer& tokenizer, bool add_bos) {
  if (!prompt.ids.empty()) {
    std::vector<int32_t> ids;
    std::istringstream in(prompt.ids);
    std::string word;
    while (in >> word) {
      try {
        size_t used = 0;
        const long long id = std::stoll(word, &used);
        if (used != word.size() || id < 0 || id >= tokenizer.vocab().size())
          throw std::out_of_range(word);
        ids.push_back(static_cast<int32_t>(id));
      } catch (const std::logic_error&) {
        fail("--prompt-ids: '{}' is not a token id of this model (0..{})", word,
             tokenizer.vocab().size() - 1);
      }
    }
    if (ids.empty()) fail("--prompt-ids is empty");
    return ids;
  }
  if (!prompt.file.empty()) return tokenizer.encode(read_file_text(prompt.file), add_bos);
  if (!prompt.text.empty()) return tokenizer.encode(prompt.text, add_bos);
  fail("no prompt: give -p TEXT or -f FILE");
}

}  // namespace etch::cli
