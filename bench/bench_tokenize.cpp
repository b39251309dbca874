// Tokenizer throughput on KJV text repeated to 10 MB, as the perplexity command and long
// prompts see it, for each tokenizer kind: the fixtures' SentencePiece model, the byte-level
// BPE tokenizer.json (Llama 3 split) and llama.cpp's GPT-2 GGUF vocabulary (GPT-2 split).
// Reports MB/s of input text on one thread.
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
  // The source tree sits beside ../shared, as in tests/test_support.hpp.
  return std::filesystem::path(__FILE__).parent_path().parent_path() / ".." / "shared" / "fixtures";
}

const etch::tokenize::Tokenizer& sentencepiece() {
  static const etch::tokenize::Tokenizer tok(etch::tokenize::load_sentencepiece_model(
      (fixtures() / "tokenizers" / "tok4096.model").string()));
  return tok;
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

void encode_10mb(benchmark::State& state, const etch::tokenize::Tokenizer& tok, bool add_bos) {
  const auto& text = text_10mb();
  if (text.empty()) {
    state.SkipWithError("fixtures not found");
    return;
  }
  size_t tokens = 0;
  for (auto _ : state) {
    const auto ids = tok.encode(text, add_bos);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}

void BM_EncodeKjv10MB(benchmark::State& state) {
  encode_10mb(state, sentencepiece(), true);
}
BENCHMARK(BM_EncodeKjv10MB)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_TokenizerJsonLlama3Kjv10MB(benchmark::State& state) {
  static const etch::tokenize::Tokenizer tok(etch::tokenize::load_tokenizer_json(
      (fixtures() / "tokenizers" / "bpe4096-llama3.tokenizer.json").string()));
  encode_10mb(state, tok, false);
}
BENCHMARK(BM_TokenizerJsonLlama3Kjv10MB)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_GgufGpt2Kjv10MB(benchmark::State& state) {
  static const etch::tokenize::Tokenizer tok(etch::import::load_gguf_vocabulary(
      (fixtures() / "tokenizers" / "ggml-vocab-gpt-2.gguf").string()));
  encode_10mb(state, tok, false);
}
BENCHMARK(BM_GgufGpt2Kjv10MB)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_EncodeVerse(benchmark::State& state) {
  const auto& tok = sentencepiece();
  const std::string verse =
      "And God said, Let there be light: and there was light. And God saw the light, that it "
      "was good: and God divided the light from the darkness.";
  for (auto _ : state) benchmark::DoNotOptimize(tok.encode(verse, true));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * verse.size()));
}
BENCHMARK(BM_EncodeVerse);

void BM_DecodeKjv10MB(benchmark::State& state) {
  const auto& tok = sentencepiece();
  const auto& text = text_10mb();
  if (text.empty()) {
    state.SkipWithError("fixtures not found");
    return;
  }
  const auto ids = tok.encode(text, true);
  for (auto _ : state) benchmark::DoNotOptimize(tok.decode(ids));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_DecodeKjv10MB)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
