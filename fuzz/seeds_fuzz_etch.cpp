// Writes valid .etch files into the folder given, as seeds for fuzz_etch: the tiny test model
// in several formats, with and without projection biases, each small enough for the fuzzers'
// -max_len. scripts/test.sh runs it before fuzzing.
#include <cstdio>
#include <filesystem>
#include <string>

#include "compile/compile.hpp"
#include "core/error.hpp"
#include "tiny_model.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FOLDER\n", argv[0]);
    return 2;
  }
  try {
    for (const auto& [recipe, biases] : {std::pair<const char*, bool>{"hc1", false},
                                         {"hc2", false},
                                         {"hc4", true},
                                         {"fp4", false}}) {
      etch::compile::BuildOptions options;
      options.recipe = recipe;
      options.threads = 1;
      const std::filesystem::path path =
          std::filesystem::path(argv[1]) /
          (std::string("tiny-") + recipe + (biases ? "-biases" : "") + ".etch");
      etch::compile::build(etch::testing::tiny_model(biases).model, nullptr, options,
                           path.string());
    }
  } catch (const etch::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
