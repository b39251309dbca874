// Contract v2 formats, recipes, ROM bits and tile units, checked against v1's definitions
// written out here independently (src/compile as of contract v1).
#include <gtest/gtest.h>

#include <set>

#include "contract/contract.hpp"
#include "core/error.hpp"
#include "test_support.hpp"

namespace etch::contract {
namespace {

TEST(ContractFormats, NamesAndShapes) {
  EXPECT_EQ(make_format(WeightFormat::kHc, 3).name(), "hc3");
  EXPECT_EQ(make_format(WeightFormat::kHc, 8).name(), "hc8");
  EXPECT_EQ(make_format(WeightFormat::kInt8, 8).name(), "int8");
  EXPECT_EQ(make_format(WeightFormat::kFp4, 4).name(), "fp4");
  const Format int8 = make_format(WeightFormat::kInt8, 8);
  EXPECT_EQ(int8.group, 256);
  EXPECT_EQ(int8.multiplier_bits, 0);
  EXPECT_FALSE(int8.fitted_levels);
  for (int bits : {2, 3, 4, 5, 6}) {
    const Format f = make_format(WeightFormat::kHc, bits);
    EXPECT_EQ(f.group, 32);
    EXPECT_EQ(f.multiplier_bits, 4);
    EXPECT_TRUE(f.fitted_levels);
  }
  EXPECT_FALSE(make_format(WeightFormat::kHc, 8).fitted_levels);
  const Format fp4 = make_format(WeightFormat::kFp4, 4);
  EXPECT_EQ(fp4.group, 32);
  EXPECT_EQ(fp4.multiplier_bits, 3);
}

TEST(ContractFormats, RefusesCombinationsTheContractLacks) {
  EXPECT_THROW(make_format(WeightFormat::kHc, 7), Error);
  EXPECT_THROW(make_format(WeightFormat::kHc, 1), Error);
  EXPECT_THROW(make_format(WeightFormat::kInt8, 4), Error);
  EXPECT_THROW(make_format(WeightFormat::kFp4, 8), Error);
  EXPECT_THROW(fixed_level(make_format(WeightFormat::kHc, 3), 0), Error);
  EXPECT_THROW(fixed_level(make_format(WeightFormat::kFp4, 4), 16), Error);
}

TEST(ContractFormats, MultipliersAndFixedLevels) {
  for (uint32_t c = 0; c < 16; ++c) EXPECT_EQ(multiplier_value(WeightFormat::kHc, c), int32_t(c));
  for (uint32_t c = 0; c < 8; ++c) EXPECT_EQ(multiplier_value(WeightFormat::kFp4, c), 1 << c);
  EXPECT_EQ(multiplier_value(WeightFormat::kInt8, 0), 1);

  const Format int8 = make_format(WeightFormat::kInt8, 8), hc8 = make_format(WeightFormat::kHc, 8);
  for (uint32_t c = 0; c < 256; ++c) {
    EXPECT_EQ(fixed_level(int8, c), c < 128 ? int(c) : int(c) - 256);
    EXPECT_EQ(fixed_level(hc8, c), c == 0 ? -127 : int(c) - 128);
  }
  // e2m1: sign bit 3, exponent bits 2..1, mantissa bit 0; the level is twice the value.
  const Format fp4 = make_format(WeightFormat::kFp4, 4);
  for (uint32_t c = 0; c < 16; ++c) {
    const uint32_t e = (c >> 1) & 3, m = c & 1;
    const double value = e == 0 ? m * 0.5 : (1 + m * 0.5) * (1 << (e - 1));
    EXPECT_EQ(fixed_level(fp4, c), int((c & 8) ? -2 * value : 2 * value)) << c;
  }
}

// v1's MatrixView::rom_bits with v1's group choice (int8: min(cols, 256), else min(32, cols)).
uint64_t v1_rom_bits(const std::string& name, int64_t rows, int64_t cols) {
  const bool int8 = name == "int8", fp4 = name == "fp4";
  const int bits = int8 ? 8 : fp4 ? 4 : name[2] - '0';
  const int64_t group = int8 ? std::min<int64_t>(cols, 256) : std::min<int64_t>(32, cols);
  const int multiplier_bits = int8 ? 0 : fp4 ? 3 : 4;
  const int64_t groups = (cols + group - 1) / group, tiles = (rows + 63) / 64;
  const uint64_t tables = (!int8 && !fp4 && bits < 8) ? uint64_t(tiles) * (1u << bits) * 8 : 0;
  return uint64_t(rows * cols * bits) + tables + uint64_t(rows * groups * multiplier_bits) +
         uint64_t(rows) * 16;
}

TEST(ContractFormats, RomBitsEqualV1ForByteAlignedRows) {
  for (const Recipe& recipe : recipes())
    for (const Format& f : {recipe.base, recipe.upgrade})
      for (int64_t rows : {1, 63, 64, 65, 256, 4096, 32000})
        for (int64_t cols : {8, 32, 40, 256, 264, 4096, 11008}) {
          EXPECT_EQ(rom_bits(f, rows, cols), v1_rom_bits(f.name(), rows, cols))
              << f.name() << " " << rows << "x" << cols;
        }
}

TEST(ContractFormats, RomBitsPadEachRowOfCodesToAByte) {
  const Format hc3 = make_format(WeightFormat::kHc, 3);
  // 5 columns of 3 bits are 15 bits, stored as 16; one group, one fitted table.
  EXPECT_EQ(rom_bits(hc3, 2, 5), 2 * 16 + 8 * 8 + 2 * 4 + 2 * 16);
}

TEST(ContractRecipes, OneTableWithV1Recipes) {
  std::vector<std::string> names;
  for (const Recipe& r : recipes()) names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{"hc1", "hc2", "hc3", "hc4", "hc5", "hc6", "hc8",
                                             "int8", "fp4"}));
  const Recipe& hc1 = find_recipe("hc1");
  EXPECT_TRUE(hc1.mixed);
  EXPECT_EQ(hc1.base.name(), "hc3");
  EXPECT_EQ(hc1.upgrade.name(), "hc6");
  EXPECT_EQ(hc1.default_budget, 3.5);
  for (const Recipe& r : recipes()) {
    EXPECT_FALSE(r.description.empty());
    if (r.name != "hc1") {
      EXPECT_FALSE(r.mixed);
      EXPECT_EQ(r.base.name(), r.name);
    }
  }
  for (const char* bad : {"hc7", "hc0", "int4", "", "HC3"}) {
    testing::expect_error([&] { find_recipe(bad); }, {"hc1, hc2"});
  }
}

TEST(ContractTile, UnitCountsFollowTheFormat) {
  const TileUnits hc3 = tile_units(make_format(WeightFormat::kHc, 3));
  EXPECT_EQ(hc3.rows, 64);
  EXPECT_EQ(hc3.group, 32);
  EXPECT_EQ(hc3.multipliers, 8 * 32);
  EXPECT_EQ(hc3.multiplier_input_bits, 16);
  EXPECT_EQ(hc3.multiplier_weight_bits, 8);
  EXPECT_EQ(hc3.product_bits, 24);
  EXPECT_EQ(hc3.selectors, 64 * 32);
  EXPECT_EQ(hc3.selector_inputs, 8);
  EXPECT_EQ(hc3.adder_trees, 64);
  EXPECT_EQ(hc3.adder_tree_inputs, 32);
  EXPECT_EQ(hc3.partial_bits, 29);
  EXPECT_EQ(hc3.group_macs, 64);
  EXPECT_EQ(hc3.group_multiplier_bits, 4);
  EXPECT_EQ(hc3.accumulator_bits, 64);

  const TileUnits int8 = tile_units(make_format(WeightFormat::kInt8, 8));
  EXPECT_EQ(int8.group, 256);
  EXPECT_EQ(int8.multipliers, 256 * 256);
  EXPECT_EQ(int8.selectors, 64 * 256);
  EXPECT_EQ(int8.selector_inputs, 256);
  EXPECT_EQ(int8.partial_bits, 32);
  EXPECT_EQ(int8.group_multiplier_bits, 0);

  const TileUnits fp4 = tile_units(make_format(WeightFormat::kFp4, 4));
  EXPECT_EQ(fp4.multipliers, 16 * 32);
  EXPECT_EQ(fp4.selector_inputs, 16);
  EXPECT_EQ(fp4.group_multiplier_bits, 3);
  for (const Recipe& r : recipes())
    EXPECT_LE(tile_units(r.upgrade).partial_bits, kGroupPartialBits) << r.name;
}

TEST(ContractKv, BitsPerToken) {
  // K and V, per layer and KV head: head_dim int16 codes and one binary32 scale.
  EXPECT_EQ(kv_bits_per_token(1, 1, 64), 2u * (64 * 16 + 32));
  EXPECT_EQ(kv_bits_per_token(32, 8, 128), 2u * 32 * 8 * (128 * 16 + 32));
}

}  // namespace
}  // namespace etch::contract
