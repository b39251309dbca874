// etch plan as a user drives it: the plan of a .etch artifact counts its ROM as etch info does,
// a shape planned with a recipe counts what etch build would store, and plan and build share
// one recipe table.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_support.hpp"

namespace etch {
namespace {

using testing::model_dir;
using testing::quote;
using testing::run_etch;
using testing::temp_dir;

std::string kjv_gguf() {
  return quote((model_dir("kjv-8m") / "kjv-8m-bf16.gguf").string());
}

// Builds kjv-8m with `recipe` (no calibration: the formats, not the accuracy, are tested).
std::string build_kjv(const std::string& recipe) {
  const std::string path = (temp_dir("cli-plan") / ("kjv-" + recipe + ".etch")).string();
  const auto r = run_etch("build " + kjv_gguf() + " -o " + quote(path) + " --recipe " + recipe);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return path;
}

nlohmann::json json_of(const std::string& args) {
  const auto r = run_etch(args + " --json");
  EXPECT_EQ(r.exit_code, 0) << args << ": " << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(CliPlan, AnEtchFileIsPlannedWithTheRomBitsInfoCounts) {
  const std::string etched = quote(build_kjv("hc1"));
  const auto info = json_of("info " + etched);
  const auto plan = json_of("plan " + etched);
  EXPECT_EQ(plan["rom_bits"].get<uint64_t>(), info["rom_bits"].get<uint64_t>());
  EXPECT_EQ(plan["bits_per_weight"].get<double>(), info["bits_per_weight"].get<double>());
  EXPECT_EQ(plan["recipe"], info["recipe"]);
  EXPECT_EQ(plan["chips"], 1);
  // The artifact fixes every format: a recipe for it is refused, not ignored.
  const auto r = run_etch("plan " + etched + " --recipe hc3");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("fixes every matrix's format"), std::string::npos) << r.err;
}

TEST(CliPlan, AShapeWithARecipeCountsWhatBuildStores) {
  const auto info = json_of("info " + quote(build_kjv("fp4")));
  const auto plan = json_of("plan " + kjv_gguf() + " --recipe fp4");
  EXPECT_EQ(plan["rom_bits"].get<uint64_t>(), info["rom_bits"].get<uint64_t>());
  EXPECT_EQ(plan["bits_per_weight"].get<double>(), info["bits_per_weight"].get<double>());
}

TEST(CliPlan, AnUnknownRecipeIsRefusedByPlanAndBuildAlike) {
  const std::string out = (temp_dir("cli-plan") / "hc7.etch").string();
  const auto plan = run_etch("plan --preset llama-3.2-1b --recipe hc7");
  const auto build = run_etch("build " + kjv_gguf() + " -o " + quote(out) + " --recipe hc7");
  EXPECT_EQ(plan.exit_code, 1);
  EXPECT_EQ(build.exit_code, 1);
  EXPECT_NE(plan.err.find("unknown recipe 'hc7'"), std::string::npos) << plan.err;
  EXPECT_EQ(plan.err, build.err);
  EXPECT_FALSE(std::filesystem::exists(out));
}

// Users are an axis of their own: the sweep prints per-user and aggregate tokens/s, power and
// energy per token at each count, and plots them.
TEST(CliPlan, AUsersSweepPrintsAndPlotsTheLoad) {
  const std::string svg = (temp_dir("cli-plan") / "users.svg").string();
  const auto r = run_etch("plan --preset llama-3.1-8b --sweep users=1,2,4,8 --svg " + quote(svg));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* column : {"tok/s/user", "tok/s total", "W/card", "W total", "mJ/token"})
    EXPECT_NE(r.out.find(column), std::string::npos) << column;
  const std::string plot = testing::read_text(svg);
  for (const char* panel : {"tokens/s per user", "tokens/s aggregate", "energy per token"})
    EXPECT_NE(plot.find(panel), std::string::npos) << panel;
}

// The sensitivity table, the ranges and the multi-bit ROM as a user reaches them; a bit count
// the planner does not model is refused in one line.
TEST(CliPlan, SensitivityRangesAndMultiBitRom) {
  const auto table = run_etch("plan --preset llama-3.2-1b --sensitivity");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("| `rom_rows` (ROM cells per bitline) | 512 | 256 / 1024 |"),
            std::string::npos)
      << table.out;
  const auto plan = json_of("plan --preset llama-3.2-1b --rom-bits-per-transistor 4");
  EXPECT_EQ(plan["rom_bits_per_transistor"], 4);
  const auto& area = plan["ranges"]["total_area_mm2"];
  EXPECT_LE(area["low"].get<double>(), area["expected"].get<double>());
  EXPECT_GE(area["high"].get<double>(), area["expected"].get<double>());
  const auto refused = run_etch("plan --preset llama-3.2-1b --rom-bits-per-transistor 5");
  EXPECT_EQ(refused.exit_code, 2);  // a usage error, as every option range (docs/cli.md)
  EXPECT_NE(refused.err.find("--rom-bits-per-transistor: 5 is out of range"), std::string::npos)
      << refused.err;
  const auto both = run_etch("plan --preset llama-3.2-1b --sensitivity --json");
  EXPECT_EQ(both.exit_code, 1);
}

}  // namespace
}  // namespace etch
