// llama.cpp's tokenizer test suites (ggml-vocab-NAME.gguf.inp / .out), shared by the
// SentencePiece and byte-level BPE tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace etch::testing {

inline std::filesystem::path tokenizers_dir() {
  return fixtures() / "tokenizers";
}

struct SuiteCase {
  std::string text;
  std::vector<int32_t> ids;
};

// llama.cpp's format: every input is followed by "\n__ggml_vocab_test__\n"; the .out file has
// one line of space-separated ids per input.
inline std::vector<SuiteCase> read_llama_cpp_suite(const std::string& name) {
  const std::string inp = read_text(tokenizers_dir() / (name + ".inp"));
  const std::string out = read_text(tokenizers_dir() / (name + ".out"));
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<SuiteCase> cases;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t end = inp.find(separator, pos);
    if (end == std::string::npos) break;
    cases.push_back({inp.substr(pos, end - pos), {}});
    pos = end + separator.size();
  }
  std::istringstream lines(out);
  std::string line;
  for (auto& c : cases) {
    if (!std::getline(lines, line)) break;
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
  }
  return cases;
}

inline bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80                 ? 1
               : c >= 0xC2 && c <= 0xDF ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

}  // namespace etch::testing
