// The accuracy bounds of issue 4 on kjv-8m, on a bounded slice of the held-out text (the
// first 40 chunks of 256 tokens), relative to the float engine on the same slice. The full-text
// table is in docs/chip-spec.md.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "compile/compile.hpp"
#include "run/run.hpp"
#include "test_support.hpp"

namespace etch {
namespace {

constexpr int64_t kCtx = 256;
constexpr int64_t kChunks = 40;

std::vector<int32_t> held_out_slice(const tokenize::Vocabulary& vocab) {
  const tokenize::Tokenizer tokenizer(vocab);
  std::vector<int32_t> ids =
      tokenizer.encode(testing::read_text(testing::fixtures() / "models" / "kjv-valid.txt"), true);
  ids.resize(static_cast<size_t>(kCtx * kChunks));
  return ids;
}

double ppl(run::Engine& engine, const std::vector<int32_t>& ids) {
  return run::perplexity(engine, ids, kCtx, engine.vocab().bos_id, nullptr).ppl;
}

TEST(EtchAccuracy, RecipesOnKjv) {
  const auto gguf = testing::model_dir("kjv-8m") / "kjv-8m-bf16.gguf";
  const import::Model model = import::load_model(gguf.string());
  const std::vector<int32_t> ids = held_out_slice(model.vocab);
  run::FloatEngine float_engine(model, {.threads = 2, .context = kCtx});
  const double reference = ppl(float_engine, ids);

  const struct {
    const char* recipe;
    double max_loss, max_bits;
  } cases[] = {{"int8", 0.002, 8.1}, {"hc6", 0.003, 6.3}, {"hc4", 0.010, 4.3}, {"hc1", 0.002, 3.5}};
  const auto dir = testing::temp_dir("accuracy");
  for (const auto& c : cases) {
    const std::string out = (dir / (std::string(c.recipe) + ".etch")).string();
    const std::string command = testing::etch_binary() + " build " + gguf.string() + " -o " + out +
                                " --recipe " + c.recipe + " -t 2 --calib " +
                                (testing::fixtures() / "models" / "kjv-calib.txt").string() +
                                " 2>/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    const compile::EtchModel etched = compile::read_etch(out);
    const double bits =
        static_cast<double>(etched.rom_bits()) / static_cast<double>(etched.parameters());
    run::IntegerEngine engine(etched, {.threads = 2, .context = kCtx});
    const double loss = ppl(engine, ids) / reference - 1;
    RecordProperty(std::string(c.recipe) + "_loss", std::to_string(loss));
    EXPECT_LT(loss, c.max_loss) << c.recipe << " at " << bits << " bits per weight";
    EXPECT_LE(bits, c.max_bits) << c.recipe;
  }
}

}  // namespace
}  // namespace etch
