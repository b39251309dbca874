// etch rtl end to end: a generated design of a tiny random model, built with Verilator and run
// token by token, matches the integer engine bit for bit on every layer's residual stream and
// every logit, for a prompt and generated tokens (rtl::cosimulate compares; run::IntegerEngine
// is the oracle). One design per recipe (the tile's code width is a parameter of its build)
// and per shape that stresses the sequencer's addressing.
#include <gtest/gtest.h>

#include "compile/compile.hpp"
#include "rtl/rtl.hpp"
#include "test_support.hpp"
#include "tiny_model.hpp"

namespace etch {
namespace {

// Small tiles and int8 groups keep each Verilator build short; the sums do not depend on them.
rtl::DesignOptions simulation_options() {
  rtl::DesignOptions o;
  o.tile_rows = 8;
  o.int8_group = 16;
  return o;
}

void expect_bit_exact(const std::string& etch_path, const std::string& name) {
  const compile::EtchModel model = compile::read_etch(etch_path);
  testing::TempDir dir("rtl-" + name);
  rtl::CosimOptions cosim;
  cosim.prompt = {1, 7, 30, 12};
  cosim.generate = 4;
  rtl::DesignOptions options = simulation_options();
  options.context = static_cast<int64_t>(cosim.prompt.size()) + cosim.generate - 1;
  const rtl::Design design = rtl::write_design(model, dir.path().string(), options);
  const rtl::CosimResult r = rtl::cosimulate(model, dir.path().string(), design, cosim);
  EXPECT_TRUE(r.bit_exact) << name << ": " << r.mismatch;
  EXPECT_EQ(r.tokens, 7);
  EXPECT_EQ(r.generated_ids.size(), 4u);
  EXPECT_GT(r.cycles_per_token, 0);
}

class RtlRecipe : public ::testing::TestWithParam<std::string> {};

TEST_P(RtlRecipe, TinyModelIsBitExact) {
  const std::string recipe = GetParam();
  expect_bit_exact(testing::write_tiny_etch(recipe, "rtl-" + recipe), recipe);
}

INSTANTIATE_TEST_SUITE_P(Recipes, RtlRecipe,
                         ::testing::Values("hc1", "hc3", "hc4", "hc5", "hc6", "int8", "fp4"));

// Shapes the generator must address right: one KV head, a head_dim that is not hidden/heads,
// tied embeddings, widths that are not multiples of the tile or group, and biases.
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
  expect_bit_exact(path, "odd-shapes");
}

TEST(RtlDesign, RefusesTileRowsThatDoNotDivideTheContractTile) {
  const compile::EtchModel model = compile::read_etch(testing::write_tiny_etch("hc3", "rtl-rows"));
  testing::TempDir dir("rtl-rows");
  rtl::DesignOptions options;
  options.tile_rows = 12;
  EXPECT_THROW(rtl::write_design(model, dir.path().string(), options), Error);
}

}  // namespace
}  // namespace etch
