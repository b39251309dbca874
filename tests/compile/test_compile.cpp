#include <gtest/gtest.h>
#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "compile/compile.hpp"
#include "core/error.hpp"
#include "test_support.hpp"
#include "tiny_model.hpp"

namespace etch {
namespace {

namespace fs = std::filesystem;

using testing::tiny_model;
using testing::TinyModel;
using testing::write_tiny_etch;

std::string bytes_of(const std::string& path) {
  return testing::read_text(path);
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string error_of(const std::string& path) {
  return testing::error_of([&] { compile::read_etch(path); });
}

TEST(EtchFormat, RoundTripIsDeterministicAndComplete) {
  for (const char* recipe : {"int8", "hc6", "hc4", "hc3", "hc2", "hc8", "fp4", "hc1"}) {
    SCOPED_TRACE(recipe);
    const std::string a = write_tiny_etch(recipe, std::string("a-") + recipe),
                      b = write_tiny_etch(recipe, std::string("b-") + recipe);
    EXPECT_EQ(bytes_of(a), bytes_of(b));
    const compile::EtchModel m = compile::read_etch(a);
    EXPECT_EQ(m.config.hidden_size, 64);
    EXPECT_EQ(m.config.kv_heads, 2);
    EXPECT_EQ(m.vocab.size(), 48);
    EXPECT_EQ(m.vocab.tokens[1], "<s>");
    EXPECT_EQ(m.vocab.bos_id, 1);
    EXPECT_EQ(m.vocab.chat_template, "{{ messages }}");
    EXPECT_EQ(m.vocab.eog_ids, std::vector<int32_t>{2});
    EXPECT_EQ(m.matrices.size(), 1u + 2 * 7 + 1);
    EXPECT_EQ(m.rope_positions, 64);
    EXPECT_EQ(m.contract_version, contract::kVersion);
    EXPECT_GT(m.rom_bits(), 0u);
  }
}

TEST(EtchFormat, QuantizedWeightsApproximateTheFloats) {
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0, 0.1f);
  std::vector<float> w(96 * 128);
  for (float& v : w) v = n(rng);
  const std::pair<const char*, double> bounds[] = {
      {"int8", 0.01}, {"hc6", 0.03}, {"hc4", 0.1}, {"hc3", 0.2}, {"fp4", 0.2}};
  for (const auto& [recipe, bound] : bounds) {
    const compile::Matrix m =
        compile::quantize("w", w, 96, 128, contract::find_recipe(recipe).base, nullptr);
    const compile::MatrixView v = m.view();
    std::vector<int8_t> row(128);
    double err = 0, sig = 0;
    for (int64_t r = 0; r < 96; ++r) {
      v.decode_row(r, row.data());
      for (int64_t j = 0; j < 128; ++j) {
        const double q = v.scales[static_cast<size_t>(r)] * v.multiplier(r, j / v.group) *
                         row[static_cast<size_t>(j)];
        err +=
            (q - w[static_cast<size_t>(r * 128 + j)]) * (q - w[static_cast<size_t>(r * 128 + j)]);
        sig += w[static_cast<size_t>(r * 128 + j)] * w[static_cast<size_t>(r * 128 + j)];
      }
    }
    EXPECT_LT(std::sqrt(err / sig), bound) << recipe;
  }
}

TEST(EtchFormat, HostileFilesGiveClearErrors) {
  const std::string good = write_tiny_etch("hc4", "hostile-good");
  const std::string bytes = bytes_of(good);
  const std::string bad = (testing::temp_dir("etch") / "hostile.etch").string();
  // Truncated anywhere: header, metadata, sections.
  for (size_t cut : {size_t{0}, size_t{10}, size_t{63}, size_t{64}, size_t{200}, bytes.size() / 2,
                     bytes.size() - 1}) {
    write_bytes(bad, bytes.substr(0, cut));
    const std::string e = error_of(bad);
    EXPECT_NE(e.find(bad), std::string::npos) << cut << ": " << e;
  }
  // A flipped byte in the last section.
  std::string corrupt = bytes;
  corrupt[corrupt.size() - 100] ^= 0x55;
  write_bytes(bad, corrupt);
  EXPECT_NE(error_of(bad).find("checksum mismatch"), std::string::npos) << error_of(bad);
  // A newer major version.
  std::string newer = bytes;
  const uint32_t major = 2;
  std::memcpy(newer.data() + 8, &major, 4);
  write_bytes(bad, newer);
  EXPECT_NE(error_of(bad).find("format version 2." + std::to_string(compile::kFormatMinor) +
                               " is not supported"),
            std::string::npos)
      << error_of(bad);
  // A 1.2 header on sub-byte codes: 1.2 stored them row by row, and nothing else tells them
  // apart, so the reader refuses the file rather than misread its codes.
  std::string row_layout = bytes;
  const uint32_t minor = 2;
  std::memcpy(row_layout.data() + 12, &minor, 4);
  write_bytes(bad, row_layout);
  EXPECT_NE(error_of(bad).find(".etch 1.2 stores 4-bit codes row by row"), std::string::npos)
      << error_of(bad);
  EXPECT_NE(error_of(bad).find("rebuild the file with etch build"), std::string::npos);
  // Metadata edited in place, its checksum recomputed so that the reader looks inside.
  auto with_metadata = [&](const std::string& from, const std::string& to) {
    std::string edited = bytes;
    uint64_t length = 0;
    std::memcpy(&length, edited.data() + 24, 8);
    const size_t at = edited.find(from, 64);
    EXPECT_LT(at, 64 + length) << from;
    EXPECT_EQ(from.size(), to.size());
    edited.replace(at, from.size(), to);
    const uint64_t sum = XXH64(edited.data() + 64, length, 0);
    std::memcpy(edited.data() + 32, &sum, 8);
    write_bytes(bad, edited);
    return error_of(bad);
  };
  // A file built for another numeric contract is refused with the way out.
  const std::string version = "\"contract_version\":" + std::to_string(contract::kVersion);
  const std::string older = with_metadata(version, "\"contract_version\":1");
  EXPECT_NE(older.find("built for numeric contract v1"), std::string::npos) << older;
  EXPECT_NE(older.find("rebuild it"), std::string::npos) << older;
  // A group the contract does not define for the format.
  const std::string group = with_metadata("\"group\":32", "\"group\":16");
  EXPECT_NE(group.find("not contract v"), std::string::npos) << group;
  // A code width the contract lacks.
  const std::string width = with_metadata("\"bits\":4", "\"bits\":7");
  EXPECT_NE(width.find("no 7-bit hc format"), std::string::npos) << width;
  // Metadata that is not JSON, with a valid checksum so the parser sees it.
  std::string garbage = bytes;
  uint64_t json_bytes = 0;
  std::memcpy(&json_bytes, garbage.data() + 24, 8);
  garbage[64] = '{';
  garbage[65] = '[';
  const uint64_t sum = XXH64(garbage.data() + 64, json_bytes, 0);
  std::memcpy(garbage.data() + 32, &sum, 8);
  write_bytes(bad, garbage);
  EXPECT_NE(error_of(bad).find("bad metadata JSON"), std::string::npos) << error_of(bad);
  // Not an .etch file at all.
  write_bytes(bad, std::string(100, 'x'));
  EXPECT_NE(error_of(bad).find("not a .etch file"), std::string::npos);
}

TEST(EtchBuild, BiasesAreStoredAsTheModelHasThem) {
  const testing::TinyModel& tiny = tiny_model(true);
  const compile::EtchModel m = compile::read_etch(write_tiny_etch("hc4", "biases", true));
  ASSERT_EQ(m.biases.size(), 2u);
  EXPECT_TRUE(m.config.qkv_bias);
  for (size_t l = 0; l < 2; ++l) {
    const import::LayerWeights& w = tiny.model.layers[l];
    const std::pair<std::span<const float>, const import::Tensor*> pairs[] = {
        {m.biases[l].q, &*w.bq},
        {m.biases[l].k, &*w.bk},
        {m.biases[l].v, &*w.bv},
        {m.biases[l].o, &*w.bo}};
    for (const auto& [stored, source] : pairs) {
      ASSERT_EQ(stored.size_bytes(), source->bytes);
      EXPECT_EQ(std::memcmp(stored.data(), source->data, source->bytes), 0);
    }
  }
  const compile::EtchModel plain = compile::read_etch(write_tiny_etch("hc4", "no-biases"));
  EXPECT_FALSE(plain.config.qkv_bias);
  EXPECT_TRUE(plain.biases[0].q.empty() && plain.biases[1].o.empty());
  // Biases live beside the norms: they add their float32 bytes to the SRAM count.
  EXPECT_EQ(m.sram_bytes(64) - plain.sram_bytes(64), 2u * (64 + 32 + 32 + 64) * 4);
}

// hc1 weighs each matrix by the loss the probe measures for its hc3 rounding: a matrix the
// probe finds sensitive is widened as far as the budget allows, one it finds harmless stays at
// hc3 however large its own rounding error.
TEST(EtchBuild, Hc1WidensWhatTheLossProbeFindsSensitive) {
  const TinyModel& tiny = tiny_model(false);
  const size_t sensitive = compile::matrix_index(import::Role::kAttnV, 1, 2);
  std::vector<size_t> probed;
  compile::BuildOptions options;
  options.recipe = "hc1";
  options.bits_per_weight = 4.0;
  options.threads = 2;
  options.loss_probe = [&](size_t matrix, std::span<const float> weights) {
    probed.push_back(matrix);
    // The probe sees the hc3 matrix: as many weights as the source, none far from it.
    const import::Tensor& source =
        matrix == 0 ? tiny.model.token_embedding
        : matrix == 1 + 2 * 7
            ? tiny.model.output
            : tiny.model.layers[(matrix - 1) / 7].matrix(import::kLayerMatrices[(matrix - 1) % 7]);
    EXPECT_EQ(static_cast<int64_t>(weights.size()), source.elements());
    return matrix == sensitive ? 1.0 : 0.0;
  };
  const std::string path = (testing::temp_dir("etch") / "hc1-probe.etch").string();
  compile::build(tiny.model, nullptr, options, path);
  EXPECT_EQ(probed.size(), 1u + 2 * 7 + 1);
  const compile::EtchModel m = compile::read_etch(path);
  for (size_t i = 0; i < m.matrices.size(); ++i)
    EXPECT_EQ(m.matrices[i].bits, i == sensitive ? 6 : 3) << m.matrices[i].name;
  EXPECT_LE(static_cast<double>(m.rom_bits()), 4.0 * static_cast<double>(m.parameters()));
}

TEST(EtchBuild, RefusesARecipeOutsideTheContract) {
  compile::BuildOptions options;
  options.recipe = "hc7";
  const std::string path = (testing::temp_dir("etch") / "hc7.etch").string();
  testing::expect_error([&] { compile::build(tiny_model(false).model, nullptr, options, path); },
                        {"unknown recipe 'hc7'"});
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace etch
