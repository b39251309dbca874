// A padded vocabulary (more embedding and output rows than tokenizer tokens, as published
// checkpoints pad to tidy shapes) loads and runs: kjv-8m padded by 64 rows gives the unpadded
// model's logits on the real tokens, bit for bit, in both engines, and generation never draws a
// padded id even where its logit is the largest.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "compile/compile.hpp"
#include "import/import.hpp"
#include "import/safetensors.hpp"
#include "run/run.hpp"
#include "run/session.hpp"
#include "test_support.hpp"

namespace etch {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kPad = 64;

// kjv-8m's Hugging Face folder with kPad extra rows in the embedding and the output head: each
// padded output row is three times real row 271 (a frequent token), so that its logit beats
// every real one wherever 271's is positive.
void write_padded(const fs::path& out) {
  const fs::path src = testing::model_dir("kjv-8m") / "hf";
  for (const auto& entry : fs::directory_iterator(src))
    if (entry.path().filename() != "model.safetensors" && entry.path().filename() != "config.json")
      fs::copy_file(entry.path(), out / entry.path().filename());
  nlohmann::json config = testing::read_json(src / "config.json");
  config["vocab_size"] = config["vocab_size"].get<int64_t>() + kPad;
  std::ofstream(out / "config.json") << config.dump();

  const import::safetensors::File file =
      import::safetensors::open((src / "model.safetensors").string());
  std::vector<import::safetensors::TensorData> tensors;
  std::vector<std::vector<uint8_t>> padded;
  padded.reserve(2);
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    const import::Tensor& t = file.tensors[i];
    const import::safetensors::Entry& e = file.header.entries[i];
    std::span<const uint8_t> bytes(t.data, t.bytes);
    std::vector<int64_t> shape = t.shape;
    if (t.name == "model.embed_tokens.weight" || t.name == "lm_head.weight") {
      ASSERT_EQ(t.type, import::TensorType::kBF16);
      std::vector<uint8_t> rows(bytes.begin(), bytes.end());
      const bool head = t.name == "lm_head.weight";
      std::vector<float> row(static_cast<size_t>(t.cols()));
      t.dequantize_row(271, row.data());
      for (int64_t p = 0; p < kPad; ++p)
        for (int64_t j = 0; j < t.cols(); ++j) {
          // bf16 is the top half of a float32 (truncated here: any nearby value will do).
          const float v = head ? 3.0f * row[static_cast<size_t>(j)] : 0.01f * static_cast<float>(p);
          uint32_t bits;
          std::memcpy(&bits, &v, 4);
          const auto half = static_cast<uint16_t>(bits >> 16);
          rows.push_back(static_cast<uint8_t>(half & 0xff));
          rows.push_back(static_cast<uint8_t>(half >> 8));
        }
      padded.push_back(std::move(rows));
      bytes = padded.back();
      shape[0] += kPad;
    }
    tensors.push_back({t.name, e.dtype, shape, bytes});
  }
  std::ofstream(out / "model.safetensors", std::ios::binary)
      << import::safetensors::serialize(tensors);
}

TEST(PaddedVocabulary, GivesTheUnpaddedLogitsOnTheRealTokens) {
  const testing::TempDir dir("padded");
  write_padded(dir.path());
  const import::Model base = import::load_model((testing::model_dir("kjv-8m") / "hf").string());
  const import::Model padded = import::load_model(dir.path().string());
  const int64_t vocab = base.config.vocab_size;
  ASSERT_EQ(padded.config.vocab_size, vocab + kPad);
  EXPECT_EQ(padded.vocab.size(), vocab);

  const std::vector<int32_t> ids = {1, 300, 261, 340, 387, 322, 676, 4049};
  auto compare = [&](std::span<const float> want, std::span<const float> got) {
    ASSERT_EQ(got.size(), ids.size() * static_cast<size_t>(vocab + kPad));
    int padded_wins = 0;
    for (size_t t = 0; t < ids.size(); ++t) {
      const float* w = want.data() + t * static_cast<size_t>(vocab);
      const float* g = got.data() + t * static_cast<size_t>(vocab + kPad);
      EXPECT_EQ(std::memcmp(w, g, static_cast<size_t>(vocab) * 4), 0) << "position " << t;
      padded_wins += run::argmax({g, static_cast<size_t>(vocab + kPad)}) >= vocab;
    }
    EXPECT_GT(padded_wins, 0);  // the padded rows do compete
  };
  run::FloatEngine fb(base, {.threads = 2, .context = 64});
  run::FloatEngine fp(padded, {.threads = 2, .context = 64});
  const auto want = fb.eval(ids, true);
  const std::vector<float> want_float(want.begin(), want.end());
  compare(want_float, fp.eval(ids, true));

  // Generation draws real tokens only: the padded model continues as the unpadded one.
  const tokenize::Tokenizer tokenizer(base.vocab);
  auto generate = [&](run::Engine& engine) {
    engine.reset();
    run::Sampler sampler({.temperature = 0});
    run::Session session(engine, tokenizer);
    session.start(ids, {.max_tokens = 16, .ignore_eos = true}, sampler);
    while (session.running()) session.step();
    return std::vector<int32_t>(session.generated().begin(), session.generated().end());
  };
  EXPECT_EQ(generate(fp), generate(fb));

  // Etched at int8 (fixed levels, a scale per row): the real rows are quantized alike.
  compile::BuildOptions options;
  options.recipe = "int8";
  options.threads = 2;
  compile::build(base, nullptr, options, (dir / "base.etch").string());
  compile::build(padded, nullptr, options, (dir / "padded.etch").string());
  run::IntegerEngine ib(compile::read_etch((dir / "base.etch").string()),
                        {.threads = 2, .context = 64});
  run::IntegerEngine ip(compile::read_etch((dir / "padded.etch").string()),
                        {.threads = 2, .context = 64});
  const auto want_int = ib.eval(ids, true);
  const std::vector<float> want_integer(want_int.begin(), want_int.end());
  compare(want_integer, ip.eval(ids, true));
}

}  // namespace
}  // namespace etch
