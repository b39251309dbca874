// Writes a random-weight model of Llama 3.2 1B's shape (hidden 2048, 16 layers, 32 heads, 8 KV
// heads, FFN 8192, vocabulary 128256) straight into an hc1-style .etch: random codes, level
// tables, group multipliers and row scales, hc3 for most matrices and hc6 for the attention K
// and V projections, as hc1's budget spends it. Nothing is quantized, so the file takes seconds,
// not the half hour a float model's quantization would. The tokenizer is kjv-8m's, padded with
// placeholder pieces to the vocabulary's size. For measuring a bandwidth-bound decode
// (bench/decode-bandwidth.sh); the file is not committed anywhere.
//
// Usage: make_random_etch OUT.etch [LAYERS]
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "compile/compile.hpp"
#include "compile/format.hpp"
#include "core/error.hpp"
#include "import/import.hpp"

namespace {

using namespace etch;

std::filesystem::path fixtures() {
  if (const char* env = std::getenv("ETCH_FIXTURES")) return env;
  return std::filesystem::path(__FILE__).parent_path().parent_path() / ".." / "shared" / "fixtures";
}

compile::Matrix random_matrix(std::mt19937_64& rng, const std::string& name,
                              const contract::Format& format, int64_t rows, int64_t cols) {
  compile::Matrix m;
  m.name = name;
  m.format = format;
  m.rows = rows;
  m.cols = cols;
  m.codes.resize(static_cast<size_t>(m.view().code_bytes()));
  for (size_t i = 0; i < m.codes.size(); i += 8) {
    const uint64_t word = rng();
    for (size_t b = 0; b < 8 && i + b < m.codes.size(); ++b)
      m.codes[i + b] = static_cast<uint8_t>(word >> (8 * b));
  }
  const int64_t tiles = (rows + contract::kTileRows - 1) / contract::kTileRows;
  m.levels.resize(static_cast<size_t>(tiles << format.bits));
  std::uniform_int_distribution<int> level(-127, 127);
  for (auto& l : m.levels) l = static_cast<int8_t>(level(rng));
  std::uniform_int_distribution<int> multiplier(1, (1 << format.multiplier_bits) - 1);
  m.multipliers.resize(static_cast<size_t>(m.view().multiplier_bytes()));
  for (auto& c : m.multipliers) c = static_cast<uint8_t>(multiplier(rng));
  // Row scales are fp16 values; 2^-14, fp16's smallest normal, keeps outputs moderate.
  m.scales.assign(static_cast<size_t>(rows), std::ldexp(1.0f, -14));
  return m;
}

void run(const std::string& path, int64_t layers) {
  compile::EtchContents c;
  import::ModelConfig& cfg = c.config;
  cfg.vocab_size = 128256;
  cfg.hidden_size = 2048;
  cfg.layers = layers;
  cfg.heads = 32;
  cfg.kv_heads = 8;
  cfg.head_dim = 64;
  cfg.ffn_size = 8192;
  cfg.context_length = 4096;
  cfg.rope.theta = 500000.0;
  cfg.rope.dims = cfg.head_dim;
  cfg.tied_embeddings = true;

  c.vocab =
      import::load_model((fixtures() / "models" / "kjv-8m" / "kjv-8m-q8_0.gguf").string()).vocab;
  for (int32_t i = c.vocab.size(); i < cfg.vocab_size; ++i) {
    c.vocab.tokens.push_back(fmt::format("<random-{}>", i));
    c.vocab.scores.push_back(-1e9f);
    c.vocab.types.push_back(tokenize::TokenType::kNormal);
  }
  c.recipe = "hc1 (random codes: hc3, hc6 for attn_k and attn_v)";
  c.calibration = "none";

  std::mt19937_64 rng(2026);
  const contract::Format hc3 = contract::make_format(contract::WeightFormat::kHc, 3);
  const contract::Format hc6 = contract::make_format(contract::WeightFormat::kHc, 6);
  const int64_t d = cfg.hidden_size, q = cfg.heads * cfg.head_dim, kv = cfg.kv_heads * cfg.head_dim,
                f = cfg.ffn_size;
  c.matrices.push_back(random_matrix(rng, compile::etch_name(import::Role::kTokenEmbedding), hc3,
                                     cfg.vocab_size, d));
  const int64_t shapes[7][2] = {{q, d}, {kv, d}, {kv, d}, {d, q}, {f, d}, {f, d}, {d, f}};
  for (int64_t l = 0; l < layers; ++l) {
    for (size_t i = 0; i < import::kLayerMatrices.size(); ++i) {
      const import::Role role = import::kLayerMatrices[i];
      const bool kv_matrix = role == import::Role::kAttnK || role == import::Role::kAttnV;
      c.matrices.push_back(random_matrix(rng, compile::etch_name(role, l), kv_matrix ? hc6 : hc3,
                                         shapes[i][0], shapes[i][1]));
    }
    c.vectors.emplace_back(compile::etch_name(import::Role::kAttnNorm, l),
                           std::vector<float>(static_cast<size_t>(d), 1.0f));
    c.vectors.emplace_back(compile::etch_name(import::Role::kFfnNorm, l),
                           std::vector<float>(static_cast<size_t>(d), 1.0f));
  }
  c.matrices.push_back(
      random_matrix(rng, compile::etch_name(import::Role::kOutput), hc3, cfg.vocab_size, d));
  c.vectors.emplace_back(compile::etch_name(import::Role::kOutputNorm),
                         std::vector<float>(static_cast<size_t>(d), 1.0f));
  c.rope_positions = cfg.context_length;
  const std::vector<double> inv = import::rope_inverse_frequencies(cfg.rope);
  std::vector<float> cos_table, sin_table;
  for (int64_t p = 0; p < c.rope_positions; ++p)
    for (double fr : inv) {
      cos_table.push_back(static_cast<float>(std::cos(static_cast<double>(p) * fr)));
      sin_table.push_back(static_cast<float>(std::sin(static_cast<double>(p) * fr)));
    }
  c.vectors.emplace_back("rope.cos", std::move(cos_table));
  c.vectors.emplace_back("rope.sin", std::move(sin_table));
  compile::write_etch(path, c);
  // What one decoded token reads: every matrix's ROM bytes but the embedding's, of which it
  // reads one row.
  uint64_t bits = 0;
  for (const compile::Matrix& m : c.matrices) bits += m.view().rom_bits();
  const compile::Matrix& embedding = c.matrices.front();
  bits -= embedding.view().rom_bits() / static_cast<uint64_t>(embedding.rows) *
          static_cast<uint64_t>(embedding.rows - 1);
  fmt::print("wrote {}: Llama 3.2 1B's shape with {} layers, random hc3/hc6 codes\n", path, layers);
  fmt::print("decode_bytes_per_token {}\n", bits / 8);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fmt::print(stderr, "usage: make_random_etch OUT.etch [LAYERS (default 16)]\n");
    return 2;
  }
  try {
    const int64_t layers = argc == 3 ? std::stoll(argv[2]) : 16;
    if (layers < 1 || layers > 64) etch::fail("layers must be 1 to 64, not {}", layers);
    run(argv[1], layers);
  } catch (const std::exception& e) {
    fmt::print(stderr, "make_random_etch: {}\n", e.what());
    return 1;
  }
  return 0;
}
