// The longer co-simulations, labelled "oracle": the hc recipes on the tiny model
// and kjv-8m hc1 (a real trained model), a prompt plus 8 generated tokens, bit for bit with the
// integer engine.
#include <gtest/gtest.h>

#include <filesystem>

#include "cosim_check.hpp"
#include "import/import.hpp"
#include "tiny_model.hpp"

namespace etch {
namespace {

class RtlHcRecipe : public ::testing::TestWithParam<std::string> {};

TEST_P(RtlHcRecipe, TinyModelIsBitExact) {
  const std::string recipe = GetParam();
  testing::expect_bit_exact(testing::write_tiny_etch(recipe, "rtl-" + recipe), recipe);
}

INSTANTIATE_TEST_SUITE_P(Recipes, RtlHcRecipe,
                         ::testing::Values("hc1", "hc3", "hc4", "hc5", "hc6"));

// kjv-8m built with hc1 (hc3 and hc6 tiles), the first reference prompt and 8 greedy tokens, on
// the planner's tiling (the design's defaults: 64-row tiles, one per format, 64 rows out per
// cycle).
TEST(RtlKjv, Hc1PromptAndEightTokensAreBitExact) {
  const auto model_path = testing::model_dir("kjv-8m") / "hf";
  if (!std::filesystem::exists(model_path)) GTEST_SKIP() << "no fixture " << model_path;
  const std::string etch_path = (testing::temp_dir("rtl-kjv") / "kjv-hc1.etch").string();
  compile::BuildOptions options;
  options.recipe = "hc1";
  options.threads = 2;
  compile::build(import::load_model(model_path.string()), nullptr, options, etch_path);
  const auto reference =
      testing::read_json(testing::model_dir("kjv-8m") / "ref" / "reference.json");
  std::vector<int32_t> prompt = reference["prompts"][0]["ids"];
  testing::expect_bit_exact(etch_path, "kjv-hc1", prompt, 8, rtl::DesignOptions{});
}

}  // namespace
}  // namespace etch
