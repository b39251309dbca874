// What serving many sequences at once gains: decoding one token for each of 8 sequences in one
// batched step (each weight row read once for all 8) against 8 single-sequence steps, in the
// float engine on kjv-8m (bf16) and the integer engine on kjv-8m compiled with int8 (no
// calibration, so the file builds in seconds). Each sequence holds a 64-token prompt, rewound
// there whenever its context fills, so every step attends over 64..255 positions.
// Items processed are tokens, per second of wall time.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

#include "compile/compile.hpp"
#include "import/import.hpp"
#include "run/run.hpp"

namespace {

constexpr int64_t kContext = 256;
constexpr int64_t kPrompt = 64;

std::filesystem::path fixtures() {
  if (const char* env = std::getenv("ETCH_FIXTURES")) return env;
  // The source tree sits beside ../shared, as in tests/test_support.hpp.
  return std::filesystem::path(__FILE__).parent_path().parent_path() / ".." / "shared" / "fixtures";
}

const etch::import::Model& kjv() {
  static const etch::import::Model model =
      etch::import::load_model((fixtures() / "models" / "kjv-8m" / "kjv-8m-bf16.gguf").string());
  return model;
}

const std::string& kjv_int8() {
  static const std::string path = [] {
    const auto file = std::filesystem::temp_directory_path() / "etch-bench-kjv-int8.etch";
    etch::compile::BuildOptions options;
    options.recipe = "int8";
    etch::compile::build(kjv(), nullptr, options, file.string());
    return file.string();
  }();
  return path;
}

std::unique_ptr<etch::run::Engine> make_engine(bool integer, int sequences) {
  const etch::run::EngineOptions options{.context = kContext, .sequences = sequences};
  if (integer)
    return std::make_unique<etch::run::IntegerEngine>(etch::compile::read_etch(kjv_int8()),
                                                      options);
  return std::make_unique<etch::run::FloatEngine>(kjv(), options);
}

// Every sequence's prompt, fed in one step.
void prefill(etch::run::Engine& engine, const std::vector<int32_t>& prompt) {
  std::vector<etch::run::SequenceTokens> batch;
  for (int s = 0; s < engine.sequences(); ++s) batch.push_back({.sequence = s, .tokens = prompt});
  engine.step(batch);
}

std::vector<int32_t> prompt_of(const etch::run::Engine& engine) {
  std::vector<int32_t> prompt(kPrompt);
  for (int64_t i = 0; i < kPrompt; ++i)
    prompt[static_cast<size_t>(i)] =
        static_cast<int32_t>((i * 37 + 5) % engine.config().vocab_size);
  return prompt;
}

void rewind_when_full(etch::run::Engine& engine) {
  if (engine.sequence_position(0) < kContext) return;
  for (int s = 0; s < engine.sequences(); ++s) engine.truncate_sequence(s, kPrompt);
}

// One step advancing all 8 sequences by a token each.
void BM_DecodeBatched8(benchmark::State& state) {
  const auto engine = make_engine(state.range(0) != 0, 8);
  const std::vector<int32_t> prompt = prompt_of(*engine);
  prefill(*engine, prompt);
  std::vector<int32_t> ids(8, 7);
  std::vector<etch::run::SequenceTokens> batch;
  for (int s = 0; s < 8; ++s) batch.push_back({.sequence = s, .tokens = {&ids[s], 1}});
  for (auto _ : state) {
    rewind_when_full(*engine);
    benchmark::DoNotOptimize(engine->step(batch).data());
  }
  state.SetItemsProcessed(state.iterations() * 8);
}

// The same 8 tokens as 8 steps of one sequence each.
void BM_DecodeOneByOne8(benchmark::State& state) {
  const auto engine = make_engine(state.range(0) != 0, 8);
  const std::vector<int32_t> prompt = prompt_of(*engine);
  prefill(*engine, prompt);
  const int32_t id = 7;
  for (auto _ : state) {
    rewind_when_full(*engine);
    for (int s = 0; s < 8; ++s) {
      const etch::run::SequenceTokens one[] = {{.sequence = s, .tokens = {&id, 1}}};
      benchmark::DoNotOptimize(engine->step(one).data());
    }
  }
  state.SetItemsProcessed(state.iterations() * 8);
}

// Argument: 0 float engine, 1 integer engine.
BENCHMARK(BM_DecodeBatched8)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecodeOneByOne8)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
