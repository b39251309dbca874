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

}  // namespace
}  // namespace etch
