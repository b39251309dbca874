// Byte-level BPE throughput: KJV text repeated to 10 MB through the fixtures' tokenizer.json
// (Llama 3 split) and through llama.cpp's GPT-2 GGUF vocabulary (GPT-2 split). Reports MB/s
// of input text on one thread, comparable with bench_tokenize's SentencePiece figure.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "import/import.hpp"
#include "tokenize/tokenize.hpp"

namespace {

std::filesystem::path fixtures() {
  if (const char* env = std::getenv("ETCH_FIXTURES")) return env;
  return std::filesystem::path(__FILE__).parent_path().parent_path() / ".." / "shared" / "fixtures";
}

const std::string& text_10mb() {
  static const std::string text = [] {
    std::ifstream in(fixtures() / "models" / "kjv-valid.txt", std::ios::binary);
    const std::string verse{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::string out;
    if (verse.empty()) return out;
    while (out.size() < 10u << 20) out += verse;
    out.resize(10u << 20);
    return out;
  }();
  return text;
}

void encode_10mb(benchmark::State& state, const etch::tokenize::Tokenizer& tok) {
  const auto& text = text_10mb();
  if (text.empty()) {
    state.SkipWithError("fixtures not found");
    return;
  }
  size_t tokens = 0;
  for (auto _ : state) {
    const auto ids = tok.encode(text, false);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}

void BM_TokenizerJsonLlama3Kjv10MB(benchmark::State& state) {
  static const etch::tokenize::Tokenizer tok(etch::tokenize::load_tokenizer_json(
      (fixtures() / "tokenizers" / "bpe4096-llama3.tokenizer.json").string()));
  encode_10mb(state, tok);
}
BENCHMARK(BM_TokenizerJsonLlama3Kjv10MB)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_GgufGpt2Kjv10MB(benchmark::State& state) {
  static const etch::tokenize::Tokenizer tok(etch::import::load_gguf_vocabulary(
      (fixtures() / "tokenizers" / "ggml-vocab-gpt-2.gguf").string()));
  encode_10mb(state, tok);
}
BENCHMARK(BM_GgufGpt2Kjv10MB)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
