// etch plan's outputs as scripts and viewers read them: --json is valid and holds every
// headline figure (and the options that produced it), --svg is a well-formed SVG document
// (checked by libxml2's xmllint, not by etch), and --sweep gives exactly the plans that one run
// per value gives.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "cli_support.hpp"

namespace etch {
namespace {

using testing::quote;
using testing::run_etch;
using testing::TempDir;

const std::string kPreset = "plan --preset llama-3.2-1b";

nlohmann::json json_of(const std::string& args) {
  const auto r = run_etch(args + " --json");
  EXPECT_EQ(r.exit_code, 0) << args << ": " << r.err;
  EXPECT_TRUE(nlohmann::json::accept(r.out)) << args << ": " << r.out;
  return nlohmann::json::parse(r.out, nullptr, false);
}

TEST(CliPlanOutputs, JsonHoldsEveryHeadlineFigureAndTheOptionsGiven) {
  const auto plan = json_of(kPreset + " --node 7 --context 4096 --users 4 --lora-rank 8");
  EXPECT_EQ(plan["model"], "llama-3.2-1b");
  EXPECT_EQ(plan["node_nm"], 7);
  EXPECT_EQ(plan["context"], 4096);
  EXPECT_EQ(plan["lora_rank"], 8);
  EXPECT_EQ(plan["circuit"], "digital-select");
  for (const char* key :
       {"parameters", "rom_bits", "bits_per_weight", "die_area_mm2", "transistors",
        "tokens_per_second_per_user", "tokens_per_second_aggregate", "power_w", "chips", "clock_hz",
        "users_max", "energy_per_token_j", "cost_per_million_tokens_usd", "total_area_mm2",
        "total_transistors"}) {
    ASSERT_TRUE(plan.contains(key)) << key;
    ASSERT_TRUE(plan[key].is_number()) << key;
    const double v = plan[key].get<double>();
    EXPECT_TRUE(std::isfinite(v) && v > 0) << key << " = " << v;
  }
  EXPECT_GE(plan["users_max"].get<int64_t>(), 4);
  ASSERT_TRUE(plan["chip_list"].is_array());
  EXPECT_EQ(plan["chip_list"].size(), plan["chips"].get<size_t>());
  ASSERT_TRUE(plan["gpu_comparison"].is_array());
  EXPECT_FALSE(plan["gpu_comparison"].empty());
  for (const char* part : {"area_breakdown", "timing", "power", "cost"})
    EXPECT_TRUE(plan[part].is_object()) << part;
}

// xmllint (libxml2) parses the file as XML; the root must be an SVG element.
void expect_svg(const std::filesystem::path& path) {
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  const std::string command = "xmllint --noout " + quote(path.string()) + " 2>&1";
  const int status = std::system(command.c_str());
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0)
      << path << " is not well-formed XML (xmllint: scripts/setup.sh installs libxml2-utils)";
  const std::string text = testing::read_text(path);
  const size_t root = text.find("<svg");
  ASSERT_NE(root, std::string::npos);
  EXPECT_EQ(text.find('<'), root) << "the root element is not <svg>";
  EXPECT_NE(text.find("xmlns=\"http://www.w3.org/2000/svg\"", root), std::string::npos);
  EXPECT_EQ(text.substr(text.find_last_not_of(" \n") - 5, 6), "</svg>");
}

TEST(CliPlanOutputs, SvgIsAWellFormedSvgDocumentBesideTheReport) {
  const TempDir dir("cli-plan-svg");
  const auto floorplan = run_etch(kPreset + " --svg " + quote((dir / "floor.svg").string()));
  EXPECT_EQ(floorplan.exit_code, 0) << floorplan.err;
  EXPECT_NE(floorplan.out.find("etch plan: llama-3.2-1b"), std::string::npos) << floorplan.out;
  expect_svg(dir / "floor.svg");

  const auto chart =
      run_etch(kPreset + " --sweep users=1,4,16 --svg " + quote((dir / "chart.svg").string()));
  EXPECT_EQ(chart.exit_code, 0) << chart.err;
  expect_svg(dir / "chart.svg");
  // Only the two files: no temporary left beside them.
  EXPECT_EQ(testing::listing(dir.path()), (std::vector<std::string>{"chart.svg", "floor.svg"}));
}

TEST(CliPlanOutputs, SweepGivesThePlanOfEachValueInOrder) {
  const auto sweep = json_of(kPreset + " --sweep node=28,7,5");
  EXPECT_EQ(sweep["param"], "node");
  ASSERT_EQ(sweep["points"].size(), 3u);
  const int nodes[] = {28, 7, 5};
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(nodes[i]);
    // A point is the plan of its value, labelled with the value as given.
    nlohmann::json point = sweep["points"][i];
    EXPECT_EQ(point["value"], std::to_string(nodes[i]));
    point.erase("value");
    EXPECT_TRUE(point == json_of(kPreset + " --node " + std::to_string(nodes[i]))) << point.dump();
  }
  // The text table has one row per value, in the order given: the rows' first words.
  const auto text = run_etch(kPreset + " --sweep context=512,4096");
  EXPECT_EQ(text.exit_code, 0) << text.err;
  std::vector<std::string> first_words;
  std::istringstream lines(text.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string word;
    if (words >> word && (word == "512" || word == "4096")) first_words.push_back(word);
  }
  EXPECT_EQ(first_words, (std::vector<std::string>{"512", "4096"})) << text.out;
}

TEST(CliPlanOutputs, AMalformedSweepIsAnArgumentError) {
  // Exit 2 and one line naming the problem, before any plan is made (docs/cli.md).
  for (const std::string spec : {"foo=1", "node=", "users", "users=1,,2", "bpw=x", "context=-5"}) {
    SCOPED_TRACE(spec);
    const auto r = run_etch(kPreset + " --sweep " + spec);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("--sweep"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

}  // namespace
}  // namespace etch
