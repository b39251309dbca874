// `etch tokenize` on llama.cpp's vocabulary-only GGUF files (no tensors; any architecture): every
// case of their tokenizer suites through the command line, one process per case (about 190
// processes, 30 s of CPU: labelled oracle, so the sanitizer stage leaves it to the release one).
#include <gtest/gtest.h>

#include <fstream>

#include "cli_support.hpp"
#include "tokenize/llama_cpp_suite.hpp"

namespace etch {
namespace {

using testing::quote;
using testing::run_etch;

class VocabularyOnlyTokenize : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabularyOnlyTokenize, PassesTheLlamaCppSuite) {
  const std::string file = "ggml-vocab-" + GetParam() + ".gguf";
  const std::string vocab = (testing::tokenizers_dir() / file).string();
  const testing::TempDir dir("tokenize");
  int checked = 0;
  for (const testing::SuiteCase& c : testing::read_llama_cpp_suite(file)) {
    // The command line refuses an empty prompt; the library suites cover the empty case.
    if (c.text.empty()) continue;
    const std::string text = (dir / "text").string();
    std::ofstream(text, std::ios::binary) << c.text;
    const testing::CommandResult r = run_etch("tokenize " + quote(vocab) + " --no-bos -f " + text);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string want;
    for (int32_t id : c.ids) want += (want.empty() ? "" : " ") + std::to_string(id);
    EXPECT_EQ(r.out, want + "\n") << quote(c.text);
    ++checked;
  }
  EXPECT_GT(checked, 30);
}

INSTANTIATE_TEST_SUITE_P(Suites, VocabularyOnlyTokenize,
                         ::testing::Values("llama-spm", "gpt-2", "falcon", "deepseek-llm"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::erase(name, '-');
                           return name;
                         });

}  // namespace
}  // namespace etch
