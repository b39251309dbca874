// The steps before a run: any model file opened as the engine its format calls for (the same
// logits, bit for bit, as that engine built by hand), and calibration's token budget.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "compile/compile.hpp"
#include "core/error.hpp"
#include "run/pipeline.hpp"
#include "test_support.hpp"
#include "tiny_model.hpp"

namespace etch {
namespace {

using Ids = std::vector<int32_t>;

std::vector<float> logits_of(run::Engine& engine, const Ids& prompt) {
  const auto logits = engine.eval(prompt, true);
  return {logits.begin(), logits.end()};
}

TEST(LoadedModel, FloatFilesRunOnTheFloatEngine) {
  const Ids prompt = {1, 1026, 261, 2261};
  for (const char* form : {"kjv-8m-bf16.gguf", "hf"}) {
    SCOPED_TRACE(form);
    const std::string path = (testing::model_dir("kjv-8m") / form).string();
    const run::LoadedModel loaded(path);
    EXPECT_EQ(loaded.path(), path);
    EXPECT_EQ(loaded.config().layers, 8);
    EXPECT_EQ(loaded.vocab().size(), 4096);
    EXPECT_NE(loaded.description().find("8 layers, hidden 256, vocab 4096"), std::string::npos)
        << loaded.description();
    EXPECT_EQ(loaded.float_model().config.hidden_size, 256);
    const auto engine = loaded.engine({.threads = 1, .context = 16});
    EXPECT_NE(dynamic_cast<run::FloatEngine*>(engine.get()), nullptr);
    EXPECT_EQ(engine->context(), 16);

    const import::Model model = import::load_model(path);
    run::FloatEngine direct(model, {.threads = 1, .context = 16});
    const auto ours = logits_of(*engine, prompt), theirs = logits_of(direct, prompt);
    ASSERT_EQ(ours.size(), theirs.size());
    EXPECT_EQ(0, std::memcmp(ours.data(), theirs.data(), ours.size() * sizeof(float)));
  }
}

TEST(LoadedModel, EtchFilesRunOnTheIntegerEngine) {
  testing::TinyModel tiny;
  const std::string path = (testing::temp_dir("pipeline") / "tiny-hc1.etch").string();
  compile::BuildOptions options;
  options.recipe = "hc1";
  options.threads = 1;
  compile::build(tiny.model, nullptr, options, path);

  const run::LoadedModel loaded(path);
  EXPECT_EQ(loaded.config().vocab_size, 48);
  EXPECT_EQ(loaded.vocab().size(), 48);
  EXPECT_EQ(loaded.description().rfind(".etch hc1", 0), 0u) << loaded.description();
  EXPECT_THROW(loaded.float_model(), Error);
  const auto engine = loaded.engine({.threads = 1, .context = 16});
  EXPECT_NE(dynamic_cast<run::IntegerEngine*>(engine.get()), nullptr);

  run::IntegerEngine direct(compile::read_etch(path), {.threads = 1, .context = 16});
  const Ids prompt = {1, 5, 17, 40, 3};
  const auto ours = logits_of(*engine, prompt), theirs = logits_of(direct, prompt);
  ASSERT_EQ(ours.size(), theirs.size());
  EXPECT_EQ(0, std::memcmp(ours.data(), theirs.data(), ours.size() * sizeof(float)));

  EXPECT_THROW(run::LoadedModel("/nonexistent/model.gguf"), Error);
}

// kjv-8m's chunks are 256 tokens, BOS first: a budget of 300 takes BOS and 255 text tokens,
// then BOS and 43 more; every matrix input is observed at each of those 300 tokens.
TEST(Calibrate, SpendsTheTokenBudgetAndReportsProgress) {
  const import::Model model =
      import::load_model((testing::model_dir("kjv-8m") / "kjv-8m-bf16.gguf").string());
  const tokenize::Tokenizer tokenizer(model.vocab);
  const Ids text =
      tokenizer.encode(testing::read_text(testing::fixtures() / "models" / "kjv-calib.txt"), false);
  ASSERT_GT(text.size(), 1000u);
  std::vector<std::pair<int64_t, int64_t>> reports;
  const compile::Calibration calibration = run::calibrate(
      model, text, 300, 1, [&](int64_t done, int64_t total) { reports.emplace_back(done, total); });
  EXPECT_EQ(calibration.tokens(), 300);
  EXPECT_EQ(reports, (std::vector<std::pair<int64_t, int64_t>>{{256, 300}, {300, 300}}));
  using import::Role;
  const std::pair<Role, int64_t> weights[] = {{Role::kAttnQ, 0},
                                              {Role::kAttnOutput, 3},
                                              {Role::kFfnUp, 7},
                                              {Role::kFfnDown, 7},
                                              {Role::kOutput, -1}};
  for (const auto& [role, layer] : weights) {
    SCOPED_TRACE(compile::etch_name(role, layer));
    const compile::InputStatistics* statistics = calibration.find(role, layer);
    ASSERT_NE(statistics, nullptr);
    EXPECT_EQ(statistics->tokens, 300);
  }
  EXPECT_THROW(run::calibrate(model, Ids{}, 300, 1, nullptr), Error);
}

// The probe's divergence is 0 for the model's own weights (to rounding), and for an all-zero output
// head (uniform next-token distributions) it is KL(p || uniform) = log(vocab) - entropy(p),
// computed here from the float engine's own logits.
TEST(LossProbe, MeasuresTheDivergenceFromTheFloatModel) {
  const import::Model model =
      import::load_model((testing::model_dir("kjv-8m") / "kjv-8m-bf16.gguf").string());
  const tokenize::Tokenizer tokenizer(model.vocab);
  Ids text =
      tokenizer.encode(testing::read_text(testing::fixtures() / "models" / "kjv-calib.txt"), false);
  text.resize(100);
  const compile::LossProbe probe = run::loss_probe(model, text, 40, 1);
  const size_t head = compile::matrix_index(import::Role::kOutput, -1, model.config.layers);
  std::vector<float> weights(static_cast<size_t>(model.output.elements()));
  for (int64_t r = 0; r < model.output.rows(); ++r)
    model.output.dequantize_row(r, weights.data() + r * model.output.cols());
  // The same values as float32 rows take the engine's f32 kernel, not its bf16 one: equal to
  // within the float sums' rounding, far below the zero head's divergence (about 5 nats).
  EXPECT_NEAR(probe(head, weights), 0.0, 1e-7);

  run::FloatEngine engine(model, {.threads = 1, .context = 64});
  Ids chunk = {model.vocab.bos_id};
  chunk.insert(chunk.end(), text.begin(), text.begin() + 39);
  const auto logits = engine.eval(chunk, true);
  const auto vocab = static_cast<size_t>(model.config.vocab_size);
  double expected = 0;
  for (size_t p = 0; p < chunk.size(); ++p) {
    const float* row = logits.data() + p * vocab;
    const double top = *std::max_element(row, row + vocab);
    double sum = 0, weighted = 0;
    for (size_t v = 0; v < vocab; ++v) {
      const double e = std::exp(row[v] - top);
      sum += e;
      weighted += e * (row[v] - top);
    }
    const double entropy = std::log(sum) - weighted / sum;
    expected += std::log(static_cast<double>(vocab)) - entropy;
  }
  expected /= static_cast<double>(chunk.size());
  std::fill(weights.begin(), weights.end(), 0.0f);
  EXPECT_NEAR(probe(head, weights), expected, 1e-9 * expected);
  EXPECT_THROW(probe(head, std::span<const float>(weights).first(10)), Error);
}

}  // namespace
}  // namespace etch
