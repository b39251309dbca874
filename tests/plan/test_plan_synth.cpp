// `etch plan --synth TABLE`: the tile datapaths counted from the Yosys synthesis of the RTL
// tile (src/rtl/synth/synth_table.py) in place of the hand-written circuits, and nothing else.
#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "plan/plan.hpp"

namespace etch::plan {
namespace {

const std::string kCommittedTable = std::string(ETCH_SOURCE_DIR) + "/src/plan/synth-table.json";

// A table with round numbers, so that the expected datapath follows from the unit counts alone.
constexpr const char* kRoundTable = R"({
  "yosys": "Yosys 0.23", "date": "2026-12-01", "transistors_per_nand2": 4,
  "tiles": {
    "hc3": {"k": 3, "group": 32, "multiplier_bits": 4,
            "nand2_per_product": 1000, "nand2_per_weight": 100, "nand2_per_row": 2000},
    "fp4": {"k": 4, "group": 32, "multiplier_bits": 3,
            "nand2_per_product": 200, "nand2_per_weight": 150, "nand2_per_row": 1500}
  }
})";

PlanInput small_model(const std::string& recipe) {
  PlanInput in;
  in.model = find_preset("smollm2-135m");
  in.weights = weights_for_recipe(in.model, recipe);
  return in;
}

std::string error_of(const std::string& text) {
  try {
    parse_synth_table(text, "t.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PlanSynth, TheCommittedTableHasEveryTileFormat) {
  const SynthTable t = read_synth_table(kCommittedTable);
  EXPECT_EQ(t.yosys.rfind("Yosys ", 0), 0u) << t.yosys;
  EXPECT_EQ(t.date.size(), 10u) << t.date;
  EXPECT_EQ(t.transistors_per_nand2, 4);
  for (const char* format : {"hc3", "hc6", "fp4", "int8"}) {
    SCOPED_TRACE(format);
    ASSERT_EQ(t.tiles.count(format), 1u);
  }
  // hc6's weight slot selects among 64 products where hc3's selects among 8: its selector is
  // the larger by far. Both banks are the same general 16 x 8 multiplier per product.
  EXPECT_GT(t.tiles.at("hc6").nand2_per_weight, 4 * t.tiles.at("hc3").nand2_per_weight);
  EXPECT_NEAR(t.tiles.at("hc6").nand2_per_product / t.tiles.at("hc3").nand2_per_product, 1.0, 0.25);
  // A fixed level is a constant multiplication: cheaper than a general multiplier.
  EXPECT_LT(t.tiles.at("fp4").nand2_per_product, t.tiles.at("hc3").nand2_per_product);
  EXPECT_LT(t.tiles.at("int8").nand2_per_product, t.tiles.at("hc3").nand2_per_product);
}

TEST(PlanSynth, ChangesTheTileDatapathsAndNothingElse) {
  for (const char* recipe : {"hc3", "fp4"}) {
    SCOPED_TRACE(recipe);
    const PlanInput base = small_model(recipe);
    PlanInput synth = base;
    synth.synth = parse_synth_table(kRoundTable, "round.json");
    const Plan a = make_plan(base), b = make_plan(synth);
    ASSERT_EQ(a.chip_count(), 1);
    ASSERT_EQ(b.chip_count(), 1);
    const auto& ta = a.chips.front().tiles;
    const auto& tb = b.chips.front().tiles;
    ASSERT_EQ(ta.size(), tb.size());
    const SynthTile& unit = synth.synth->tiles.at(recipe);
    for (size_t i = 0; i < ta.size(); ++i) {
      SCOPED_TRACE(ta[i].name);
      // What the table replaces: 4 transistors per NAND2 per unit of the tile.
      EXPECT_DOUBLE_EQ(tb[i].transistors.datapath, 4 * (tb[i].multipliers * unit.nand2_per_product +
                                                        tb[i].selectors * unit.nand2_per_weight +
                                                        tb[i].group_macs * unit.nand2_per_row));
      if (ta[i].datapaths > 0) {
        EXPECT_NE(tb[i].transistors.datapath, ta[i].transistors.datapath);
      }
      // The same units, and the rest of the tile's logic, ROM and SRAM unchanged.
      EXPECT_EQ(tb[i].datapaths, ta[i].datapaths);
      EXPECT_EQ(tb[i].multipliers, ta[i].multipliers);
      EXPECT_EQ(tb[i].selectors, ta[i].selectors);
      EXPECT_DOUBLE_EQ(tb[i].transistors.logic - tb[i].transistors.datapath,
                       ta[i].transistors.logic - ta[i].transistors.datapath);
      EXPECT_EQ(tb[i].transistors.rom, ta[i].transistors.rom);
      EXPECT_EQ(tb[i].transistors.sram, ta[i].transistors.sram);
      EXPECT_EQ(tb[i].area.rom, ta[i].area.rom);
      EXPECT_EQ(tb[i].area.kv_sram, ta[i].area.kv_sram);
      EXPECT_EQ(tb[i].cycles, ta[i].cycles);
      EXPECT_EQ(tb[i].energy_j, ta[i].energy_j);
    }
    EXPECT_EQ(b.timing.cycles_per_token, a.timing.cycles_per_token);
    EXPECT_EQ(b.rom_bits, a.rom_bits);
  }
}

TEST(PlanSynth, AFormatTheTableLacksOrCellSelectIsAClearError) {
  PlanInput in = small_model("hc6");
  in.synth = parse_synth_table(kRoundTable, "round.json");
  try {
    make_plan(in);
    FAIL() << "hc6 planned from a table without an hc6 tile";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "round.json: no hc6 tile to plan its matrices with (the table has fp4, hc3)");
  }
  in = small_model("hc3");
  in.synth = parse_synth_table(kRoundTable, "round.json");
  in.circuit = Circuit::kCellSelect;
  EXPECT_THROW(make_plan(in), Error);
}

TEST(PlanSynth, AMalformedTableIsAOneLineErrorNamingTheFile) {
  const std::string good = kRoundTable;
  const auto replaced = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  const std::pair<std::string, std::string> cases[] = {
      {"{\"yosys\": ", "not a synthesis table: malformed JSON"},
      {"[1, 2]", "a JSON object was expected"},
      {replaced("\"tiles\"", "\"tile\""), "the table has no \"tiles\""},
      {replaced("\"k\": 3", "\"k\": 2"),
       "tile hc3 was synthesized with K 2, group 32, 4 multiplier bits; the contract's hc3 has "
       "3, 32, 4"},
      {replaced("\"hc3\"", "\"hc7\""), "tile \"hc7\" is not a contract format"},
      {replaced("1000", "-1000"), "tile hc3's \"nand2_per_product\" must be a positive number"},
      {replaced("\"nand2_per_row\": 2000", "\"nand2_per_row\": \"many\""),
       "tile hc3's \"nand2_per_row\" must be a positive number"},
      {replaced("\"transistors_per_nand2\": 4", "\"transistors_per_nand2\": 0"),
       "the table's \"transistors_per_nand2\" must be a positive number"},
      {std::string(40, '[') + std::string(40, ']'), "nested deeper"},
  };
  for (const auto& [text, message] : cases) {
    const std::string error = error_of(text);
    EXPECT_EQ(error.rfind("t.json: ", 0), 0u) << error;
    EXPECT_NE(error.find(message), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
  try {
    read_synth_table("/nonexistent/synth-table.json");
    FAIL() << "read a missing table";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/synth-table.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace etch::plan
