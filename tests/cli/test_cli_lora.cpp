// --lora on the command line: the adapted model's greedy continuation from either form, scale 0
// as the base model, bad specs and adapters refused in one line, and `etch build --lora`
// folding the adapter into the .etch.
#include <gtest/gtest.h>

#include "cli_support.hpp"

namespace etch {
namespace {

using testing::quote;
using testing::run_etch;

const std::filesystem::path kjv = testing::model_dir("kjv-8m");

std::string greedy_ids(const std::filesystem::path& reference) {
  const auto prompt = testing::read_json(reference)["prompts"][0];
  std::string ids;
  for (size_t i = 0; i < 24; ++i)
    ids += (i ? " " : "") + std::to_string(prompt["greedy_ids"][i].get<int32_t>());
  return ids;
}

std::string run_ids(const std::string& model, const std::string& lora) {
  const auto r = run_etch("run " + quote(model) + lora +
                          " --prompt-ids '1 1026 261 2261' -n 24 --temp 0 --ids -t 1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

TEST(CliLora, RunAppliesTheAdapter) {
  const std::string adapted = greedy_ids(kjv / "lora-r8" / "reference.json");
  const std::string base = greedy_ids(kjv / "ref" / "reference.json");
  const std::string hf = (kjv / "hf").string(), gguf = (kjv / "kjv-8m-bf16.gguf").string();
  EXPECT_EQ(run_ids(hf, " --lora " + quote((kjv / "lora-r8").string())), adapted);
  EXPECT_EQ(run_ids(gguf, " --lora " + quote((kjv / "lora-r8" / "kjv-8m-lora-r8.gguf").string())),
            adapted);
  EXPECT_EQ(run_ids(hf, " --lora " + quote((kjv / "lora-r8").string() + ":0")), base);

  const auto bad_scale = run_etch("run " + quote(hf) + " --lora x:nan -p hi");
  EXPECT_EQ(bad_scale.exit_code, 2);
  EXPECT_NE(bad_scale.err.find("--lora"), std::string::npos) << bad_scale.err;
  const auto not_adapter = run_etch("run " + quote(hf) + " --lora " + quote(gguf) + " -p hi");
  EXPECT_EQ(not_adapter.exit_code, 1);
  EXPECT_EQ(not_adapter.err, "etch: " + gguf +
                                 ": is a GGUF model, not an adapter (general.type is not "
                                 "\"adapter\")\n");
  const std::string adapter_file = (kjv / "lora-r8" / "kjv-8m-lora-r8.gguf").string();
  const auto as_model = run_etch("run " + quote(adapter_file) + " -p hi");
  EXPECT_EQ(as_model.exit_code, 1);
  EXPECT_EQ(as_model.err, "etch: " + adapter_file +
                              ": is an adapter, not a model: give it to --lora beside its base "
                              "model\n");
}

TEST(CliLora, BuildFoldsTheAdapterIntoTheEtch) {
  const testing::TempDir dir("cli-lora");
  const std::string hf = quote((kjv / "hf").string()), lora = quote((kjv / "lora-r8").string());
  const std::string folded = (dir / "folded.etch").string(), plain = (dir / "plain.etch").string();
  for (const auto& [out, extra] :
       {std::pair{folded, " --lora " + lora}, std::pair{plain, std::string()}}) {
    const auto built =
        run_etch("build " + hf + " -o " + quote(out) + " --recipe int8 -t 1" + extra);
    ASSERT_EQ(built.exit_code, 0) << built.err;
  }
  const auto plan = run_etch("plan " + quote(folded) + " --json");
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_EQ(nlohmann::json::parse(plan.out)["lora_rank"], 8);
  // The folded adapter applies by default, as the same adapter given at run time does; at
  // scale 0 it is the plain chip.
  const std::string adapted = run_ids(plain, " --lora " + lora);
  EXPECT_EQ(run_ids(folded, ""), adapted);
  EXPECT_NE(run_ids(plain, ""), adapted);
}

}  // namespace
}  // namespace etch
