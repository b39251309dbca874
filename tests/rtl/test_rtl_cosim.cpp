// etch rtl end to end: a generated design of a tiny random model, built with Verilator and run
// token by token, matches the integer engine bit for bit on every layer's residual stream and
// every logit, for a prompt and generated tokens (rtl::cosimulate compares; run::IntegerEngine
// is the oracle). Each design is one Verilator build (the tile's code width and multiplier kind
// are parameters), so the suite here takes int8, fp4 and the stress shapes (hc4);
// test_rtl_cosim_oracle.cpp adds hc1 (up to four formats, hc3 to hc6: the slowest build), hc3 to
// hc6 alone and kjv-8m.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>

#include "cosim_check.hpp"
#include "tiny_model.hpp"

namespace etch {
namespace {

class RtlRecipe : public ::testing::TestWithParam<std::string> {};

// One element lane here: the element-wise steps one element per cycle, as a chip built with
// --element-lanes 1 streams them (the stress shapes take seven lanes, the lint three, and every
// Verilator build's C++ grows with the lanes).
TEST_P(RtlRecipe, TinyModelIsBitExact) {
  const std::string recipe = GetParam();
  rtl::DesignOptions options = testing::simulation_options();
  options.element_lanes = 1;
  testing::expect_bit_exact(testing::write_tiny_etch(recipe, "rtl-" + recipe), recipe,
                            {1, 7, 30, 12}, 4, options);
}

INSTANTIATE_TEST_SUITE_P(Recipes, RtlRecipe, ::testing::Values("int8", "fp4"));

// Shapes the generator must address right: one KV head, a head_dim that is not hidden/heads,
// tied embeddings, widths that are not multiples of the tile or group, and biases; seven element
// lanes divide none of its element-wise lengths.
TEST(RtlShapes, StressShapesAreBitExact) {
  const testing::TinyModel odd(true, [](import::ModelConfig& c) {
    c.hidden_size = 72;  // not a multiple of the 32-column group
    c.heads = 3;
    c.kv_heads = 1;   // MQA
    c.head_dim = 20;  // 3 x 20 != 72
    c.rope.dims = 20;
    c.ffn_size = 100;   // not a multiple of 32 or of the tile rows
    c.vocab_size = 45;  // nor is the head's row count
    c.tied_embeddings = true;
  });
  const std::string path = (testing::temp_dir("rtl-odd") / "odd.etch").string();
  compile::BuildOptions options;
  options.recipe = "hc4";
  options.threads = 2;
  compile::build(odd.model, nullptr, options, path);
  rtl::DesignOptions design = testing::simulation_options();
  design.element_lanes = 7;  // divides none of 72, 20, 100, 60 and 40 RoPE pairs
  testing::expect_bit_exact(path, "odd-shapes", {1, 7, 30, 12}, 4, design);
}

// Runs `command` (TOP stands for the top module's name) in a generated design's folder of the
// tiny `recipe` model; returns its exit status and output.
std::pair<int, std::string> run_in_design(const std::string& recipe, std::string command) {
  const compile::EtchModel model =
      compile::read_etch(testing::write_tiny_etch(recipe, "rtl-check-" + recipe));
  testing::TempDir dir("rtl-check");
  const rtl::Design design =
      rtl::write_design(model, dir.path().string(), testing::simulation_options());
  command.replace(command.find("TOP"), 3, design.top);
  const std::string full = "cd '" + dir.path().string() + "' && " + command + " > check.log 2>&1";
  const int status = std::system(full.c_str());
  return {status, testing::read_text(dir.path() / "check.log")};
}

// verilator --lint-only -Wall is clean on generated designs of both ROM layouts: one format
// (int8) and two (hc1's hc3 and hc6). Small tiles keep the elaboration short (a 256-column
// int8 tile has 65,536 products).
TEST(RtlDesign, GeneratedDesignsLintClean) {
  for (const std::string recipe : {"int8", "hc1"}) {
    const auto [status, log] =
        run_in_design(recipe, "verilator --lint-only -Wall --top-module TOP sv/*.sv");
    EXPECT_EQ(status, 0) << recipe << ": " << log;
  }
}

// A second reading of a generated design: Yosys parses every file and elaborates the top with
// its ROM files loaded (hierarchy -check fails on a missing module or port).
TEST(RtlDesign, GeneratedDesignElaboratesInYosys) {
  if (std::system("command -v yosys > /dev/null 2>&1") != 0) GTEST_SKIP() << "no yosys";
  const auto [status, log] = run_in_design(
      "hc1", "yosys -q -p 'read_verilog -defer -sv sv/*.sv; hierarchy -check -top TOP'");
  EXPECT_EQ(status, 0) << log;
}

TEST(RtlDesign, RefusesTileRowsThatDoNotDivideTheContractTile) {
  const compile::EtchModel model = compile::read_etch(testing::write_tiny_etch("hc3", "rtl-rows"));
  testing::TempDir dir("rtl-rows");
  rtl::DesignOptions options;
  options.tile_rows = 12;
  EXPECT_THROW(rtl::write_design(model, dir.path().string(), options), Error);
}

TEST(RtlDesign, RefusesElementLanesOutOfRange) {
  const compile::EtchModel model = compile::read_etch(testing::write_tiny_etch("hc3", "rtl-rows"));
  testing::TempDir dir("rtl-element-lanes");
  for (const int64_t lanes : {int64_t{0}, rtl::kMaxElementLanes + 1}) {
    rtl::DesignOptions options;
    options.element_lanes = lanes;
    EXPECT_THROW(rtl::write_design(model, dir.path().string(), options), Error) << lanes;
  }
}

}  // namespace
}  // namespace etch
