// Perplexity of kjv-8m against two independent oracles: llama.cpp's llama-perplexity
// (perplexity-standard.json) and HF transformers in float64 (reference.json's windows),
// and llama.cpp's own quantizations of the model against its bf16 weights.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "run/run.hpp"
#include "test_support.hpp"

namespace etch {
namespace {

using testing::fixtures;
using testing::model_dir;

std::string valid_text() {
  return testing::read_text(fixtures() / "models" / "kjv-valid.txt");
}

double standard_ppl(const std::string& model_path, int64_t ctx) {
  const import::Model model = import::load_model((model_dir("kjv-8m") / model_path).string());
  const tokenize::Tokenizer tokenizer(model.vocab);
  const std::vector<int32_t> tokens = tokenizer.encode(valid_text(), true);
  run::FloatEngine engine(model, {.threads = 2, .context = ctx});
  return run::perplexity(engine, tokens, ctx, model.vocab.bos_id, nullptr).ppl;
}

TEST(Perplexity, MatchesLlamaCppStandardMethod) {
  const auto standard =
      testing::read_json(model_dir("kjv-8m") / "ref" / "perplexity-standard.json");
  for (const char* ctx : {"256", "128"}) {
    const double expected = standard["n_ctx"][ctx]["ppl"].get<double>();
    const double got = standard_ppl("kjv-8m-bf16.gguf", std::stoi(ctx));
    RecordProperty(std::string("ppl_ctx") + ctx, std::to_string(got));
    EXPECT_NEAR(got / expected, 1.0, 1e-4) << "ctx " << ctx << ": " << got << " vs " << expected;
  }
}

// reference.json's method: each line encoded without BOS and followed by the newline byte
// token; windows of BOS + 255 tokens; every next-token prediction scored.
TEST(Perplexity, MatchesHuggingFaceWindows) {
  const auto reference =
      testing::read_json(model_dir("kjv-8m") / "ref" / "reference.json")["perplexity"];
  const import::Model model = import::load_model((model_dir("kjv-8m") / "hf").string());
  const tokenize::Tokenizer tokenizer(model.vocab);
  std::vector<int32_t> stream;
  std::istringstream lines(valid_text());
  std::string line;
  const std::vector<int32_t> newline = tokenizer.encode("\n", false);
  while (std::getline(lines, line)) {
    const auto ids = tokenizer.encode(line, false);
    stream.insert(stream.end(), ids.begin(), ids.end());
    stream.push_back(newline.back());
  }
  const int64_t windows = reference["windows"].get<int64_t>();
  const int64_t span = reference["window_tokens"].get<int64_t>() - 1;
  ASSERT_GE(static_cast<int64_t>(stream.size()), windows * span);
  run::FloatEngine engine(model, {.threads = 2, .context = span + 1});
  const int64_t vocab = model.config.vocab_size;
  double nll = 0;
  int64_t scored = 0;
  for (int64_t w = 0; w < windows; ++w) {
    std::vector<int32_t> window = {model.vocab.bos_id};
    window.insert(window.end(), stream.begin() + w * span, stream.begin() + (w + 1) * span);
    engine.reset();
    const auto logits = engine.eval(window, true);
    for (size_t t = 0; t + 1 < window.size(); ++t, ++scored)
      nll -=
          run::log_softmax_at(logits.subspan(t * vocab, static_cast<size_t>(vocab)), window[t + 1]);
  }
  EXPECT_EQ(scored, reference["tokens_scored"].get<int64_t>());
  const double ppl = std::exp(nll / static_cast<double>(scored));
  EXPECT_NEAR(ppl / reference["ppl"].get<double>(), 1.0, 1e-4) << ppl;
}

// llama.cpp's quantizations of kjv-8m, dequantized by etch, must score what llama.cpp's own
// perplexity tool measured for them (build 3f545bec, ctx 256): its F32 perplexity times
// 1 + the loss it measured: Q8_0 +0.04%, Q4_0 +0.90%, Q4_K_M +0.48%. A wrong block layout
// would lose far more than the 0.1% allowed.
TEST(Perplexity, LlamaCppQuantizationsScoreWhatLlamaCppMeasured) {
  const auto standard =
      testing::read_json(model_dir("kjv-8m") / "ref" / "perplexity-standard.json");
  const double f32 = standard["n_ctx"]["256"]["ppl"].get<double>();
  const struct {
    const char* file;
    double llama_cpp_loss_percent;
  } cases[] = {
      {"kjv-8m-q8_0.gguf", 0.04}, {"kjv-8m-q4_0.gguf", 0.90}, {"kjv-8m-q4_k_m.gguf", 0.48}};
  for (const auto& c : cases) {
    const double expected = f32 * (1.0 + c.llama_cpp_loss_percent / 100.0);
    const double got = standard_ppl(c.file, 256);
    RecordProperty(c.file, std::to_string(got));
    EXPECT_NEAR(got / expected, 1.0, 1e-3)
        << c.file << ": " << got << " vs llama.cpp's " << expected;
  }
}

}  // namespace
}  // namespace etch
