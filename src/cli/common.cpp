#include "cli/common.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace etch::cli {

import::Model load_model_logged(const std::string& path){
    const auto start = std::chrono::steady_clock::now();
import::Model model = import::load_model(path);
uint64_t bytes = 0;
for (const auto& t : model.tensors) bytes += t.bytes;
const double seconds =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
const auto& c = model.config;
fmt::print(
    stderr,
    "etch: loaded {} ({}, {} layers, hidden {}, vocab {}, {:.1f} MiB of weights) in {:.2f}s\n",
    path, model.format, c.layers, c.hidden_size, c.vocab_size,
    static_cast<double>(bytes) / (1 << 20), seconds);
return model;
}  // namespace etch::cli

ModelSource::ModelSource(const std::string& path) {
  if (!compile::is_etch_file(path)) {
    model_ = load_model_logged(path);
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  etch_ = compile::read_etch(path);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& c = etch_->config;
  fmt::print(stderr,
             "etch: loaded {} (.etch {}, {} layers, hidden {}, vocab {}, {:.3f} bits per weight) "
             "in {:.2f}s\n",
             path, etch_->recipe, c.layers, c.hidden_size, c.vocab_size,
             static_cast<double>(etch_->rom_bits()) / static_cast<double>(etch_->parameters()),
             seconds);
}

const import::ModelConfig& ModelSource::config() const {
  return model_ ? model_->config : etch_->config;
}
const tokenize::Vocabulary& ModelSource::vocab() const {
  return model_ ? model_->vocab : etch_->vocab;
}

std::unique_ptr<run::Engine> ModelSource::engine(run::EngineOptions options) const {
  if (model_) return std::make_unique<run::FloatEngine>(*model_, std::move(options));
  return std::make_unique<run::IntegerEngine>(*etch_, std::move(options));
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
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_file(path, "cannot open");
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) fail_file(path, "read error");
  return out.str();
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

void Utf8Stream::write(const std::string& bytes) {
  pending_ += bytes;
  // Find where the last, possibly incomplete, UTF-8 sequence starts.
  size_t keep_from = pending_.size();
  for (size_t back = 1; back <= 4 && back <= pending_.size(); ++back) {
    const auto c = static_cast<unsigned char>(pending_[pending_.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    keep_from = need > back ? pending_.size() - back : pending_.size();
    break;
  }
  std::fwrite(pending_.data(), 1, keep_from, stdout);
  std::fflush(stdout);
  pending_.erase(0, keep_from);
}

void Utf8Stream::finish() {
  std::fwrite(pending_.data(), 1, pending_.size(), stdout);
  pending_.clear();
  std::fflush(stdout);
}

}  // namespace etch::cli
