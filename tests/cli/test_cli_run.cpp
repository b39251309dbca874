// The etch binary as a user drives it: run, tokenize, info, perplexity, bench and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "cli_support.hpp"
#include "run/run.hpp"

namespace etch {
namespace {

using testing::model_dir;
using testing::quote;
using testing::run_etch;

std::string kjv_gguf() {
  return quote((model_dir("kjv-8m") / "kjv-8m-bf16.gguf").string());
}
std::string kjv_hf() {
  return quote((model_dir("kjv-8m") / "hf").string());
}

std::vector<int32_t> parse_ids(const std::string& line) {
  std::vector<int32_t> ids;
  std::istringstream in(line);
  int32_t id;
  while (in >> id) ids.push_back(id);
  return ids;
}

TEST(Cli, RunGreedyIdsMatchTheReference) {
  const auto reference = testing::read_json(model_dir("kjv-8m") / "ref" / "reference.json");
  const auto& prompt = reference["prompts"][0];
  const auto r =
      run_etch("run " + kjv_hf() + " -p " + quote(prompt["text"]) + " -n 48 --temp 0 --ids -t 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_ids(r.out), prompt["greedy_ids"].get<std::vector<int32_t>>());
}

TEST(Cli, RunStreamsTheReferenceText) {
  const auto reference = testing::read_json(model_dir("kjv-8m") / "ref" / "reference.json");
  const auto& prompt = reference["prompts"][1];
  const auto r = run_etch("run " + kjv_gguf() + " -p " + quote(prompt["text"]) + " -n 48 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The continuation keeps the space its first piece carries; the reference decodes it alone.
  EXPECT_EQ(r.out, " " + prompt["greedy_text"].get<std::string>() + "\n");
}

TEST(Cli, LogitsOutWritesEveryPromptPosition) {
  const auto dir = model_dir("rand-llama3-gqa");
  const auto reference = testing::read_json(dir / "ref" / "reference.json");
  const auto& prompt = reference["prompts"][1];
  std::string ids;
  for (int id : prompt["ids"]) ids += std::to_string(id) + " ";
  const auto out = testing::temp_dir("logits") / "logits.f32";
  const auto r = run_etch("run " + quote((dir / "hf").string()) + " --prompt-ids " + quote(ids) +
                          " -n 0 --logits-out " + quote(out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "\n");
  const auto ours = testing::read_f32(out);
  const auto ref = testing::read_f32(dir / "ref" / prompt["logits_file"].get<std::string>());
  ASSERT_EQ(ours.size(), ref.size());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(ours[i]) - ref[i]));
    scale = std::max(scale, std::abs(static_cast<double>(ref[i])));
  }
  EXPECT_LT(worst / scale, 1e-4);
}

TEST(Cli, SeededSamplingIsReproducible) {
  const std::string args =
      "run " + kjv_gguf() + " -p 'And God said' -n 24 --temp 0.9 --seed 42 --ids";
  const auto a = run_etch(args), b = run_etch(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(parse_ids(a.out).size(), 24u);
  const auto c =
      run_etch("run " + kjv_gguf() + " -p 'And God said' -n 24 --temp 0.9 --seed 43 --ids");
  EXPECT_NE(a.out, c.out);
}

TEST(Cli, TokenizeGivesTheReferenceIds) {
  const auto reference = testing::read_json(model_dir("kjv-8m") / "ref" / "reference.json");
  for (const auto& prompt : reference["prompts"]) {
    const auto r = run_etch("tokenize " + kjv_gguf() + " -p " + quote(prompt["text"]));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(parse_ids(r.out), prompt["ids"].get<std::vector<int32_t>>());
  }
  const auto pieces =
      run_etch("tokenize " + kjv_gguf() + " -p 'In the beginning' --no-bos --pieces");
  EXPECT_EQ(pieces.out, "\u2581In \u2581the \u2581beginning\n");
}

TEST(Cli, InfoJsonDescribesTheModel) {
  const auto r = run_etch("info " + kjv_gguf() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info["format"], "gguf");
  EXPECT_EQ(info["config"]["layers"], 8);
  EXPECT_EQ(info["config"]["kv_heads"], 2);
  EXPECT_EQ(info["config"]["rope"]["layout"], "interleaved");
  EXPECT_EQ(info["tokenizer"]["tokens"], 4096);
  EXPECT_EQ(info["tensors"].size(), 2u + 1u + 8u * 9u);
  const auto text = run_etch("info " + kjv_hf());
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("half-split"), std::string::npos);
}

TEST(Cli, PerplexityJsonIsTheLibraryResult) {
  const auto text = testing::temp_dir("ppl") / "text.txt";
  {
    std::ofstream out(text);
    for (int i = 0; i < 20; ++i) out << "And God said, Let there be light: and there was light.\n";
  }
  const auto r =
      run_etch("perplexity " + kjv_gguf() + " -f " + quote(text.string()) + " --ctx 64 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto result = nlohmann::json::parse(r.out);

  const import::Model model =
      import::load_model((model_dir("kjv-8m") / "kjv-8m-bf16.gguf").string());
  const tokenize::Tokenizer tokenizer(model.vocab);
  const auto tokens = tokenizer.encode(testing::read_text(text), true);
  run::FloatEngine engine(model, {.threads = 1, .context = 64});
  const auto expected = run::perplexity(engine, tokens, 64, model.vocab.bos_id, nullptr);
  // Logits do not depend on the thread count, so the command's figure is exactly this one.
  EXPECT_EQ(result["ppl"].get<double>(), expected.ppl);
  EXPECT_EQ(result["tokens"].get<int64_t>(), expected.tokens_scored);
  EXPECT_EQ(result["chunks"].get<int64_t>(), static_cast<int64_t>(tokens.size()) / 64);
  EXPECT_EQ(result["tokens"].get<int64_t>(), result["chunks"].get<int64_t>() * 31);
}

TEST(Cli, BenchReportsBothRates) {
  const auto r = run_etch("bench " + kjv_gguf() + " -p 32 -n 8 -r 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto result = nlohmann::json::parse(r.out);
  EXPECT_GT(result["prompt_tokens_per_second"].get<double>(), 0);
  EXPECT_GT(result["decode_tokens_per_second"].get<double>(), 0);
  // Batched decode: several sequences a step, counted together.
  const auto batched = run_etch("bench " + kjv_gguf() + " -p 8 -n 4 -r 1 -s 3 --json");
  ASSERT_EQ(batched.exit_code, 0) << batched.err;
  const auto b = nlohmann::json::parse(batched.out);
  EXPECT_EQ(b["sequences"].get<int>(), 3);
  EXPECT_GT(b["decode_tokens_per_second"].get<double>(), 0);
}

TEST(Cli, ErrorsAreOneLineNamingTheProblem) {
  const auto missing = run_etch("run /nonexistent/model.gguf -p hi");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/model.gguf"), std::string::npos) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
  EXPECT_TRUE(missing.out.empty());

  const auto bad_ids = run_etch("run " + kjv_gguf() + " --prompt-ids '1 99999' -n 1");
  EXPECT_EQ(bad_ids.exit_code, 1);
  EXPECT_NE(bad_ids.err.find("99999"), std::string::npos) << bad_ids.err;

  const auto no_prompt = run_etch("run " + kjv_gguf());
  EXPECT_EQ(no_prompt.exit_code, 1);
  EXPECT_NE(no_prompt.err.find("no prompt"), std::string::npos) << no_prompt.err;

  const auto bad_option = run_etch("run " + kjv_gguf() + " -p hi --temp");
  EXPECT_EQ(bad_option.exit_code, 2);
  EXPECT_EQ(bad_option.err, "etch: --temp: 1 required FLOAT:0..100 missing\n");
}

}  // namespace
}  // namespace etch
