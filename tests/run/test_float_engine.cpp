// The float engine against the fixtures' Hugging Face float64 references: teacher-forced
// logits of every prompt position and greedy continuations, for every form of every model.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "run/run.hpp"
#include "run/session.hpp"
#include "test_support.hpp"

namespace etch {
namespace {

using testing::model_dir;
using testing::read_f32;
using testing::read_json;

struct Form {
  std::string model;  // fixture folder
  std::string path;   // relative to it
  int greedy_ids;     // how many reference greedy ids must match
  double tolerance = 1e-4;
};

void PrintTo(const Form& form, std::ostream* os) {
  *os << form.model << "/" << form.path;
}

// The references are computed from the f32 weights, which an f16 file rounds by up to
// 4.9e-4 relative (2^-11): the logits then move by about 2e-3 of the largest logit, and a
// random model's near-ties flip the greedy choice after about a dozen tokens. An f16 form is
// held to what its weights allow.
constexpr double kF16Tolerance = 5e-3;
constexpr int kF16GreedyIds = 8;

std::string form_name(const ::testing::TestParamInfo<Form>& info) {
  std::string name = info.param.model + "_" + info.param.path;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

class FloatEngineReference : public ::testing::TestWithParam<Form> {};

// Largest |ours - reference| over a position, relative to the largest |reference| there.
double worst_relative_error(std::span<const float> ours, std::span<const float> ref,
                            int64_t vocab) {
  double worst = 0;
  for (size_t row = 0; row * vocab < ref.size(); ++row) {
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      const size_t k = row * vocab + static_cast<size_t>(i);
      scale = std::max(scale, std::abs(static_cast<double>(ref[k])));
      diff = std::max(diff, std::abs(static_cast<double>(ours[k]) - ref[k]));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

TEST_P(FloatEngineReference, LogitsAndGreedyMatchHuggingFace) {
  const Form& form = GetParam();
  const auto dir = model_dir(form.model);
  const import::Model model = import::load_model((dir / form.path).string());
  const auto reference = read_json(dir / "ref" / "reference.json");
  const int64_t vocab = model.config.vocab_size;
  run::FloatEngine engine(model, {.threads = 2, .context = 512});
  const tokenize::Tokenizer tokenizer(model.vocab);
  for (const auto& prompt : reference["prompts"]) {
    SCOPED_TRACE(prompt["text"].get<std::string>());
    const auto ids = prompt["ids"].get<std::vector<int32_t>>();
    const auto ref_logits = read_f32(dir / "ref" / prompt["logits_file"].get<std::string>());
    ASSERT_EQ(ref_logits.size(), ids.size() * static_cast<size_t>(vocab));

    engine.reset();
    const auto logits = engine.eval(ids, true);
    ASSERT_EQ(logits.size(), ref_logits.size());
    EXPECT_LT(worst_relative_error(logits, ref_logits, vocab), form.tolerance);

    const auto expected = prompt["greedy_ids"].get<std::vector<int32_t>>();
    run::Sampler greedy({.temperature = 0});
    run::GenerationOptions options;
    options.max_tokens = form.greedy_ids;
    options.ignore_eos = true;
    run::Session session(engine, tokenizer);
    session.start(ids, options, greedy);
    while (session.running()) session.step();
    const std::vector<int32_t> got(session.generated().begin(), session.generated().end());
    ASSERT_EQ(got.size(), static_cast<size_t>(form.greedy_ids));
    EXPECT_EQ(got, std::vector<int32_t>(expected.begin(), expected.begin() + form.greedy_ids));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, FloatEngineReference,
    ::testing::Values(
        Form{"kjv-8m", "hf", 48}, Form{"kjv-8m", "kjv-8m-bf16.gguf", 48},
        Form{"rand-llama3-gqa", "hf", 16}, Form{"rand-llama3-gqa", "hf-v4-config", 16},
        Form{"rand-llama3-gqa", "rand-llama3-gqa-f32.gguf", 16},
        Form{"rand-llama3-gqa", "rand-llama3-gqa-f16.gguf", kF16GreedyIds, kF16Tolerance},
        Form{"rand-tied-mha", "hf", 16}, Form{"rand-tied-mha", "rand-tied-mha-f32.gguf", 16},
        Form{"rand-tied-mha", "rand-tied-mha-f16.gguf", kF16GreedyIds, kF16Tolerance},
        Form{"rand-llama-bias", "hf", 16}),
    form_name);

// Bit-exactness across thread counts and between one batch and token-by-token decoding:
// each output is one dot product computed the same way whoever computes it.
TEST(FloatEngine, LogitsIdenticalAcrossThreadsAndBatching) {
  const import::Model model =
      import::load_model((model_dir("kjv-8m") / "kjv-8m-bf16.gguf").string());
  const std::vector<int32_t> ids = {1, 300, 261, 340, 387, 322, 676, 4049, 1238, 365, 270};
  const int64_t vocab = model.config.vocab_size;
  std::vector<float> first;
  for (int threads : {1, 2, 3, 4}) {
    run::FloatEngine engine(model, {.threads = threads, .context = 64});
    const auto all = engine.eval(ids, true);
    std::vector<float> batch(all.begin(), all.end());
    if (first.empty()) first = batch;
    EXPECT_EQ(0, std::memcmp(first.data(), batch.data(), batch.size() * sizeof(float)))
        << threads << " threads";

    engine.reset();
    for (size_t t = 0; t < ids.size(); ++t) {
      const auto step = engine.eval(std::span<const int32_t>(&ids[t], 1), false);
      ASSERT_EQ(step.size(), static_cast<size_t>(vocab));
      EXPECT_EQ(0, std::memcmp(step.data(), batch.data() + t * vocab, step.size_bytes()))
          << "position " << t;
    }
  }
}

TEST(FloatEngine, RejectsContextOverflowAndBadIds) {
  const import::Model model =
      import::load_model((model_dir("rand-tied-mha") / "rand-tied-mha-f32.gguf").string());
  run::FloatEngine engine(model, {.threads = 1, .context = 4});
  const std::vector<int32_t> five = {1, 2, 3, 4, 5};
  EXPECT_THROW(engine.eval(five, false), Error);
  const std::vector<int32_t> bad = {1, static_cast<int32_t>(model.config.vocab_size)};
  EXPECT_THROW(engine.eval(bad, false), Error);
  EXPECT_EQ(engine.position(), 0);
}

}  // namespace
}  // namespace etch
