#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "compile/compile.hpp"
#include "core/error.hpp"
#include "run/int_kernels.hpp"
#include "run/run.hpp"
#include "test_support.hpp"
#include "tiny_model.hpp"

namespace etch {
namespace {

namespace fs = std::filesystem;

std::string write_tiny(const std::string& recipe, const std::string& name) {
  static testing::TinyModel tiny;
  const fs::path path = testing::temp_dir("etch") / (name + ".etch");
  compile::BuildOptions options;
  options.recipe = recipe;
  options.threads = 2;
  compile::build(tiny.model, nullptr, options, path.string());
  return path.string();
}

std::vector<int32_t> test_tokens() {
  std::vector<int32_t> ids = {1};
  for (int i = 0; i < 40; ++i) ids.push_back(3 + (i * 7) % 45);
  return ids;
}

std::vector<float> logits_of(const std::string& path, int threads, bool scalar) {
  run::IntegerEngine engine(compile::read_etch(path), {.threads = threads, .context = 64}, scalar);
  const auto ids = test_tokens();
  // Prompt in two parts, the second one token at a time: exercises the cache as decode does.
  std::vector<float> out;
  auto first = engine.eval(std::span<const int32_t>(ids.data(), 30), true);
  out.assign(first.begin(), first.end());
  for (size_t i = 30; i < ids.size(); ++i) {
    auto l = engine.eval(std::span<const int32_t>(&ids[i], 1), false);
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

std::string bytes_of(const std::string& path) {
  return testing::read_text(path);
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string error_of(const std::string& path) {
  try {
    compile::read_etch(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(EtchFormat, RoundTripIsDeterministicAndComplete) {
  for (const char* recipe : {"int8", "hc6", "hc4", "hc3", "hc2", "hc8", "fp4", "hc1"}) {
    SCOPED_TRACE(recipe);
    const std::string a = write_tiny(recipe, std::string("a-") + recipe),
                      b = write_tiny(recipe, std::string("b-") + recipe);
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
  const std::string good = write_tiny("hc4", "hostile-good");
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

TEST(IntKernels, ScalarAndVectorAgreeOnRandomInputs) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> f(-50, 50);
  std::uniform_int_distribution<int> i16(-32767, 32767), i8(-128, 127), mul(1, 128);
  const auto& s = run::int_kernels::scalar();
  const auto& v = run::int_kernels::fast();
  for (int64_t n : {1, 15, 16, 17, 64, 100, 256, 768, 1000}) {
    std::vector<float> x(static_cast<size_t>(n)), u(static_cast<size_t>(n));
    for (auto& e : x) e = f(rng);
    for (auto& e : u) e = f(rng);
    std::vector<int16_t> qa(static_cast<size_t>(n)), qb(static_cast<size_t>(n)),
        a(static_cast<size_t>(n));
    std::vector<int8_t> w(static_cast<size_t>(n));
    std::vector<int32_t> m(static_cast<size_t>(n));
    for (auto& e : a) e = static_cast<int16_t>(i16(rng));
    for (auto& e : w) e = static_cast<int8_t>(i8(rng));
    for (auto& e : m) e = mul(rng);
    EXPECT_EQ(s.quantize(x.data(), n, qa.data()), v.quantize(x.data(), n, qb.data()));
    EXPECT_EQ(qa, qb);
    for (int64_t g : {1, 16, 32, 256})
      EXPECT_EQ(s.dot_grouped(a.data(), w.data(), m.data(), n, g),
                v.dot_grouped(a.data(), w.data(), m.data(), n, g));
    EXPECT_EQ(s.dot16(a.data(), qa.data(), n), v.dot16(a.data(), qa.data(), n));
    // Expanded weights (level x multiplier) give the grouped sum exactly.
    for (int64_t g : {16, 32, 256}) {
      std::vector<int16_t> wm(static_cast<size_t>(n));
      for (int64_t j = 0; j < n; ++j)
        wm[static_cast<size_t>(j)] = static_cast<int16_t>(
            std::min(m[static_cast<size_t>(j / g)], 15) * w[static_cast<size_t>(j)]);
      std::vector<int32_t> m15(m.size());
      for (size_t j = 0; j < m.size(); ++j) m15[j] = std::min(m[j], 15);
      EXPECT_EQ(s.dot_grouped(a.data(), w.data(), m15.data(), n, g),
                v.dot_expanded(a.data(), wm.data(), n));
      EXPECT_EQ(s.dot_expanded(a.data(), wm.data(), n), v.dot_expanded(a.data(), wm.data(), n));
      const int16_t* xs[4] = {a.data(), qa.data(), qb.data(), a.data()};
      int64_t o1[4], o2[4];
      s.dot_expanded4(xs, wm.data(), n, o1);
      v.dot_expanded4(xs, wm.data(), n, o2);
      for (int t = 0; t < 4; ++t) EXPECT_EQ(o1[t], v.dot_expanded(xs[t], wm.data(), n));
      EXPECT_EQ(std::vector<int64_t>(o1, o1 + 4), std::vector<int64_t>(o2, o2 + 4));
    }
    std::vector<float> e1 = x, e2 = x;
    s.exp(e1.data(), n);
    v.exp(e2.data(), n);
    EXPECT_EQ(std::memcmp(e1.data(), e2.data(), e1.size() * 4), 0);
    e1 = x, e2 = x;
    s.silu_mul(e1.data(), u.data(), n);
    v.silu_mul(e2.data(), u.data(), n);
    EXPECT_EQ(std::memcmp(e1.data(), e2.data(), e1.size() * 4), 0);
    e1 = x, e2 = x;
    s.axpy16(0.37f, a.data(), e1.data(), n);
    v.axpy16(0.37f, a.data(), e2.data(), n);
    EXPECT_EQ(std::memcmp(e1.data(), e2.data(), e1.size() * 4), 0);
  }
}

TEST(IntKernels, ExpIsAccurate) {
  for (float x = -20; x <= 10; x += 0.01f)
    EXPECT_NEAR(run::int_kernels::exp_spec(x) / std::exp(x), 1.0, 2e-6) << x;
}

TEST(IntegerEngine, BitIdenticalAcrossKernelsThreadsAndRuns) {
  for (const char* recipe : {"int8", "hc1", "fp4"}) {
    SCOPED_TRACE(recipe);
    const std::string path = write_tiny(recipe, std::string("engine-") + recipe);
    const std::vector<float> reference = logits_of(path, 1, true);
    for (int threads : {1, 2, 4}) {
      const std::vector<float> l = logits_of(path, threads, false);
      ASSERT_EQ(l.size(), reference.size());
      EXPECT_EQ(std::memcmp(l.data(), reference.data(), l.size() * 4), 0) << threads << " threads";
    }
    EXPECT_EQ(logits_of(path, 2, false), logits_of(path, 2, false));
  }
}

// Golden vectors: the hash of the tiny model's logits per recipe. A change here is a change of
// what the chip computes: it must come with a new contract::kVersion (docs/chip-spec.md).
TEST(IntegerEngine, GoldenLogits) {
  ASSERT_EQ(contract::kVersion, 2);
  const std::pair<const char*, uint64_t> golden[] = {
      {"int8", 6559285661598971780u}, {"hc6", 3927861084858689337u}, {"hc3", 18348731318742458590u},
      {"fp4", 3766492618866969791u},  {"hc1", 6483567569006935813u},
  };
  for (const auto& [recipe, hash] : golden) {
    const std::vector<float> l =
        logits_of(write_tiny(recipe, std::string("golden-") + recipe), 2, false);
    EXPECT_EQ(XXH64(l.data(), l.size() * 4, 0), hash) << recipe;
  }
}

TEST(IntegerEngine, CloseToTheFloatEngine) {
  static testing::TinyModel tiny;
  run::FloatEngine fe(tiny.model, {.threads = 2, .context = 64});
  const auto ids = test_tokens();
  const auto fl = fe.eval(ids, true);
  const std::vector<float> ref(fl.begin(), fl.end());
  run::IntegerEngine ie(compile::read_etch(write_tiny("int8", "close-int8")),
                        {.threads = 2, .context = 64});
  const auto il = ie.eval(ids, true);
  double err = 0, sig = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err += (il[i] - ref[i]) * (il[i] - ref[i]);
    sig += ref[i] * ref[i];
  }
  EXPECT_LT(std::sqrt(err / sig), 0.02);
}

}  // namespace
}  // namespace etch
