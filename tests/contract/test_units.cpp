// Every scalar unit of contract v2 against the independent oracles of oracle.hpp, bit for bit:
// exhaustively where the input space allows, otherwise on at least 1M random inputs with edges.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>

#include "contract/contract.hpp"
#include "core/error.hpp"
#include "oracle.hpp"

namespace etch::contract {
namespace {

using oracle::FloatSource;

bool same_bits(float a, float b) {
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

// Random vectors: lengths 1..max_length, every element from one of several regimes, so that
// amax is sometimes subnormal, sometimes huge, sometimes an exact power giving ties.
std::vector<float> random_vector(FloatSource& src, size_t max_length) {
  std::vector<float> x(1 + src.pick(max_length));
  const uint64_t regime = src.pick(6);
  for (auto& v : x) {
    switch (regime) {
      case 0:
        v = src.any();
        break;
      case 1:  // amax 32767 makes inv exactly 1, so every half is a rounding tie
        v = src.sign() * (static_cast<float>(src.pick(32767)) + (src.pick(2) ? 0.5f : 0.0f));
        break;
      case 2:  // tiny vectors: subnormal amax and amax near the overflow of 32767 / amax
        v = src.sign() * std::ldexp(src.unit(), -100 - static_cast<int>(src.pick(49)));
        break;
      default:
        v = src.moderate(12);
    }
  }
  if (regime == 1) x[src.pick(x.size())] = 32767.0f;
  return x;
}

TEST(ContractUnits, QuantizeMatchesOracleOnAMillionInputs) {
  FloatSource src(1);
  int64_t elements = 0;
  while (elements < 1'200'000) {
    const std::vector<float> x = random_vector(src, 300);
    std::vector<int16_t> q(x.size());
    const float s = quantize(x, q);
    const oracle::Quantized want = oracle::quantize(x);
    ASSERT_TRUE(same_bits(s, want.scale)) << s << " vs " << want.scale;
    ASSERT_EQ(std::memcmp(q.data(), want.q.data(), q.size() * 2), 0);
    elements += static_cast<int64_t>(x.size());
  }
}

TEST(ContractUnits, QuantizeEdges) {
  std::vector<int16_t> q(3);
  EXPECT_EQ(quantize(std::vector<float>{0.0f, -0.0f, 0.0f}, q), 0.0f);
  EXPECT_EQ(q, (std::vector<int16_t>{0, 0, 0}));
  // amax = 2^-120: 32767 / amax overflows binary32, so the vector counts as zero.
  EXPECT_EQ(quantize(std::vector<float>{std::ldexp(1.0f, -120), 0.0f, -1e-40f}, q), 0.0f);
  EXPECT_EQ(q, (std::vector<int16_t>{0, 0, 0}));
  // amax = 2^-100 still quantizes.
  const float s =
      quantize(std::vector<float>{std::ldexp(1.0f, -100), 0.0f, -std::ldexp(1.0f, -101)}, q);
  EXPECT_GT(s, 0.0f);
  EXPECT_EQ(q, (std::vector<int16_t>{32767, 0, -16384}));  // -16383.5 ties to even
  const float big = std::numeric_limits<float>::max();
  quantize(std::vector<float>{big, -big, 1.0f}, q);
  EXPECT_EQ(q, (std::vector<int16_t>{32767, -32767, 0}));
  quantize(std::vector<float>{32767.0f, 2.5f, -3.5f}, q);
  EXPECT_EQ(q, (std::vector<int16_t>{32767, 2, -4}));
  // NaN does not count towards amax and gives code 0; an infinite amax makes inv 0.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = INFINITY;
  EXPECT_EQ(quantize(std::vector<float>{nan, 1.0f, 2.0f}, q), 2.0f / 32767.0f);
  EXPECT_EQ(q, (std::vector<int16_t>{0, 16384, 32767}));
  EXPECT_EQ(quantize(std::vector<float>{nan, 1.0f, -inf}, q), inf);
  EXPECT_EQ(q, (std::vector<int16_t>{0, 0, 0}));
  EXPECT_THROW(quantize(std::vector<float>(2), q), Error);
}

TEST(ContractUnits, MsaRowEqualsDequantizeThenMultiplyForEveryInt16AndLevel) {
  // Every int16 activation against every int8 level, through every group size's boundaries.
  std::vector<int16_t> x(65536);
  for (int v = -32768; v <= 32767; ++v) x[static_cast<size_t>(v + 32768)] = static_cast<int16_t>(v);
  std::vector<int8_t> levels(256);
  for (int c = 0; c < 256; ++c) levels[static_cast<size_t>(c)] = static_cast<int8_t>(c - 128);
  std::vector<uint8_t> codes(x.size());
  std::vector<int32_t> multipliers(x.size());
  for (size_t g = 0; g < multipliers.size(); ++g) multipliers[g] = static_cast<int32_t>(g % 129);
  for (int c = 0; c < 256; ++c) {
    std::fill(codes.begin(), codes.end(), static_cast<uint8_t>(c));
    const int64_t group = 1 + (c * 37) % 256;
    int64_t want = 0;
    for (size_t j = 0; j < x.size(); ++j)
      want += int64_t{x[j]} * (multipliers[j / static_cast<size_t>(group)] * int64_t{c - 128});
    ASSERT_EQ(msa_row(x, codes, levels, multipliers, group), want) << c;
  }
}

TEST(ContractUnits, MsaRowEqualsDequantizeThenMultiplyOnRandomRows) {
  FloatSource src(2);
  int64_t weights = 0;
  while (weights < 2'000'000) {
    const int bits = static_cast<int>(1 + src.pick(8));
    const auto cols = static_cast<size_t>(1 + src.pick(1500));
    const auto group = static_cast<int64_t>(1 + src.pick(256));
    std::vector<int8_t> levels(size_t{1} << bits);
    for (auto& l : levels) l = static_cast<int8_t>(static_cast<int>(src.pick(256)) - 128);
    std::vector<int16_t> x(cols);
    std::vector<uint8_t> codes(cols);
    for (size_t j = 0; j < cols; ++j) {
      x[j] = src.code();
      codes[j] = static_cast<uint8_t>(src.pick(levels.size()));
    }
    std::vector<int32_t> multipliers((cols + static_cast<size_t>(group) - 1) /
                                     static_cast<size_t>(group));
    for (auto& m : multipliers)
      m = src.pick(2) ? static_cast<int32_t>(src.pick(16)) : 1 << src.pick(8);
    int64_t want = 0;
    for (size_t j = 0; j < cols; ++j)
      want +=
          int64_t{x[j]} * (int64_t{multipliers[j / static_cast<size_t>(group)]} * levels[codes[j]]);
    ASSERT_EQ(msa_row(x, codes, levels, multipliers, group), want);
    weights += static_cast<int64_t>(cols);
  }
}

TEST(ContractUnits, MsaRowRefusesBadShapes) {
  std::vector<int16_t> x(4, 1);
  std::vector<uint8_t> codes{0, 1, 2, 3};
  std::vector<int8_t> levels{1, 2};
  std::vector<int32_t> m{1, 1};
  EXPECT_THROW(msa_row(x, codes, levels, m, 2), Error);  // code 2 outside a 2-entry table
  codes = {0, 1, 1, 0};
  EXPECT_EQ(msa_row(x, codes, levels, m, 2), 6);
  EXPECT_THROW(msa_row(x, codes, levels, m, 1), Error);  // four groups, two multipliers
  EXPECT_THROW(msa_row(x, codes, levels, m, 0), Error);
  EXPECT_THROW(msa_row(x, codes, levels, m, 257), Error);
}

// The widths the tile claims: a group's partial in kGroupPartialBits, a row in 64 bits.
TEST(ContractUnits, WorstCaseInputsStayInsideTheStatedWidths) {
  for (const Recipe& recipe : recipes())
    for (const Format& f : {recipe.base, recipe.upgrade}) {
      const TileUnits t = tile_units(f);
      // Largest |product|: -32768 * -128 = 2^22, needing 24 signed bits.
      EXPECT_LE(std::bit_width(uint64_t{32768} * 128) + 1, t.product_bits);
      const auto group = static_cast<size_t>(f.group);
      std::vector<int16_t> x(group, -32768);
      std::vector<uint8_t> codes(group, 0);
      std::vector<int8_t> levels{-128};
      std::vector<int32_t> one{1};
      const int64_t partial = msa_row(x, codes, levels, one, f.group);
      EXPECT_EQ(partial, int64_t{32768} * 128 * static_cast<int64_t>(group));
      EXPECT_LT(partial, int64_t{1} << (t.partial_bits - 1)) << f.name();
      EXPECT_LE(t.partial_bits, kGroupPartialBits);
    }
  // A row of 2^20 columns at the largest multiplier (fp4's 2^7) stays far inside 64 bits.
  const size_t cols = size_t{1} << 20;
  std::vector<int16_t> x(cols, -32768);
  std::vector<uint8_t> codes(cols, 0);
  std::vector<int8_t> levels{-128};
  std::vector<int32_t> mult(cols / 32, multiplier_value(WeightFormat::kFp4, 7));
  const int64_t acc = msa_row(x, codes, levels, mult, 32);
  EXPECT_EQ(acc, int64_t{1} << (15 + 7 + 20 + 7));
  EXPECT_LT(std::bit_width(static_cast<uint64_t>(acc)) + 1, kRowAccumulatorBits);
  // The attention output sum: 2^15 positions of 32767 * 32767 need 46 bits.
  std::vector<float> scores(32768, 0.0f), sv(32768, 1.0f), out(1);
  std::vector<int16_t> v(32768, -32767);
  attention_output(scores, v, 1, sv, out);
  EXPECT_EQ(out[0], oracle::attention_output(scores, v, 1, sv, 1)[0]);
  EXPECT_NEAR(out[0], -32767.0f, 0.01f);
}

TEST(ContractUnits, MsaOutputAndAddMatchOracle) {
  FloatSource src(3);
  for (int i = 0; i < 1'000'000; ++i) {
    const auto acc = static_cast<int64_t>(src.rng()()) >> src.pick(64);
    const float rs = src.any(), xs = src.any();
    ASSERT_TRUE(same_bits(msa_output(acc, rs, xs),
                          oracle::mul(oracle::from_int(acc), oracle::mul(rs, xs))));
    const float a = src.any(), b = src.any();
    ASSERT_TRUE(same_bits(add(a, b), oracle::add(a, b)));
  }
}

TEST(ContractUnits, ExpTableEveryEntry) {
  const std::span<const uint32_t> table = exp_table();
  ASSERT_EQ(table.size(), 1u << kExpFractionBits);
  for (uint32_t f = 0; f < table.size(); ++f) {
    EXPECT_EQ(table[f], oracle::exp_entry(f)) << f;
    // No entry is near a rounding boundary, so exp2l's last-bit error cannot matter.
    const long double exact = exp2l(16.0L - static_cast<long double>(f) / 1024.0L);
    EXPECT_LT(fabsl(exact - table[f]), 0.4999L) << f;
  }
  EXPECT_EQ(table[0], 65536u);
}

TEST(ContractUnits, ExpUnitEveryInputStep) {
  // Every u from kExpFloor to 0: the float nearest u / kExpInput and its neighbours reach it.
  int64_t covered = 0;
  for (int32_t u = kExpFloor - 2; u <= 0; ++u) {
    float d = static_cast<float>(static_cast<long double>(u) / kExpInput);
    for (int k = 0; k < 3; ++k, d = std::nextafter(d, 0.0f)) {
      ASSERT_EQ(exp_unit(d), oracle::exp_unit(d)) << d;
      const float p = oracle::mul(d, kExpInput);
      if (nearbyintl(p) == u) ++covered;
    }
  }
  EXPECT_GE(covered, -kExpFloor + 1);
  EXPECT_EQ(exp_unit(0.0f), 65536u);
  EXPECT_EQ(exp_unit(-0.0f), 65536u);
  EXPECT_EQ(exp_unit(3.0f), 65536u);  // d > 0 counts as 0
  EXPECT_EQ(exp_unit(-std::numeric_limits<float>::infinity()), 0u);
  EXPECT_EQ(exp_unit(std::numeric_limits<float>::quiet_NaN()), 0u);
  EXPECT_EQ(exp_unit(-100.0f), 0u);
}

TEST(ContractUnits, ExpUnitOnRandomInputs) {
  FloatSource src(4);
  for (int i = 0; i < 1'000'000; ++i) {
    const float d = i % 2 ? -std::abs(src.moderate(5)) : src.any();
    ASSERT_EQ(exp_unit(d), oracle::exp_unit(d)) << d;
  }
  // What the unit approximates: 2^16 exp(d), within the input step (2^-11 in log2) and a unit.
  for (float d = -11.0f; d <= 0.0f; d += 0.001f) {
    const long double want = 65536.0L * expl(d);
    EXPECT_LE(fabsl(exp_unit(d) - want), want * 3.5e-4L + 1.0L) << d;
  }
}

TEST(ContractUnits, SwigluMatchesOracle) {
  FloatSource src(5);
  for (int i = 0; i < 1'000'000; ++i) {
    const float g = i % 3 ? src.moderate(6) : src.any(), u = i % 3 ? src.moderate(6) : src.any();
    ASSERT_TRUE(same_bits(swiglu(g, u), oracle::swiglu(g, u))) << g << " " << u;
  }
  EXPECT_EQ(swiglu(0.0f, 1.0f), 0.0f);
  EXPECT_EQ(swiglu(100.0f, 1.0f), 100.0f);
  EXPECT_EQ(swiglu(-100.0f, 1.0f), -0.0f);
}

TEST(ContractUnits, RmsNormMatchesOracle) {
  FloatSource src(6);
  int64_t elements = 0;
  while (elements < 1'000'000) {
    const std::vector<float> x = random_vector(src, 600);
    std::vector<float> w(x.size());
    for (auto& v : w) v = src.pick(8) ? src.moderate(2) : src.any();
    const float eps = src.pick(2) ? 1e-5f : 1e-6f;
    std::vector<int16_t> out(x.size());
    const float s = rms_norm(x, w, eps, out);
    const oracle::Quantized want = oracle::rms_norm(x, w, eps);
    ASSERT_TRUE(same_bits(s, want.scale)) << s << " vs " << want.scale;
    ASSERT_EQ(std::memcmp(out.data(), want.q.data(), out.size() * 2), 0);
    elements += static_cast<int64_t>(x.size());
  }
}

TEST(ContractUnits, RopeMatchesOracle) {
  FloatSource src(7);
  int64_t pairs_done = 0;
  while (pairs_done < 1'000'000) {
    const int64_t head_dim = 2 * static_cast<int64_t>(1 + src.pick(64));
    const auto pairs = static_cast<size_t>(1 + src.pick(static_cast<uint64_t>(head_dim / 2)));
    const int64_t heads = static_cast<int64_t>(1 + src.pick(4));
    std::vector<float> vec(static_cast<size_t>(heads * head_dim)), cos(pairs), sin(pairs);
    for (auto& v : vec) v = src.pick(8) ? src.moderate(10) : src.any();
    for (size_t i = 0; i < pairs; ++i) {
      cos[i] = src.pick(2) ? src.unit() * src.sign() : src.any();
      sin[i] = src.pick(2) ? src.unit() * src.sign() : src.any();
    }
    for (RopeLayout layout : {RopeLayout::kInterleaved, RopeLayout::kHalfSplit}) {
      std::vector<float> got = vec, want = vec;
      rope(got, head_dim, cos, sin, layout);
      for (int64_t h = 0; h < heads; ++h)
        for (size_t i = 0; i < pairs; ++i) {
          const size_t ia =
              static_cast<size_t>(h * head_dim) + (layout == RopeLayout::kInterleaved ? 2 * i : i);
          const size_t ib = layout == RopeLayout::kInterleaved ? ia + 1 : ia + pairs;
          const float a = vec[ia], b = vec[ib];
          want[ia] = oracle::sub(oracle::mul(a, cos[i]), oracle::mul(b, sin[i]));
          want[ib] = oracle::add(oracle::mul(b, cos[i]), oracle::mul(a, sin[i]));
        }
      ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0);
    }
    pairs_done += heads * static_cast<int64_t>(pairs);
  }
  std::vector<float> odd(6);
  std::vector<float> two(2);
  EXPECT_THROW(rope(odd, 4, two, two, RopeLayout::kInterleaved), Error);
  EXPECT_THROW(rope(odd, 2, two, two, RopeLayout::kInterleaved), Error);
}

TEST(ContractUnits, AttentionScaleEveryHeadDim) {
  for (int64_t d = 1; d <= 65536; ++d)
    ASSERT_TRUE(same_bits(attention_scale(d), oracle::div(1.0f, oracle::sqrt(oracle::from_int(d)))))
        << d;
  EXPECT_EQ(attention_scale(64), 0.125f);
}

TEST(ContractUnits, AttentionScoreMatchesOracle) {
  FloatSource src(8);
  int64_t elements = 0;
  while (elements < 2'000'000) {
    const auto n = static_cast<size_t>(1 + src.pick(256));
    std::vector<int16_t> q(n), k(n);
    for (size_t i = 0; i < n; ++i) {
      q[i] = src.code();
      k[i] = src.code();
    }
    const float sq = src.pick(4) ? src.moderate(10) : src.any();
    const float sk = src.pick(4) ? src.moderate(10) : src.any();
    const float inv = attention_scale(static_cast<int64_t>(n));
    const float want = oracle::mul(
        oracle::mul(oracle::from_int(oracle::dot(q.data(), k.data(), n)), oracle::mul(sq, sk)),
        inv);
    ASSERT_TRUE(same_bits(attention_score(q, sq, k, sk, inv), want));
    ASSERT_EQ(dot(q, k), oracle::dot(q.data(), k.data(), n));
    elements += static_cast<int64_t>(n);
  }
  // Every int16 query code against the extremes of a key.
  std::vector<int16_t> q(1), k(1);
  for (int v = -32768; v <= 32767; ++v)
    for (int16_t kv : {int16_t{-32768}, int16_t{-32767}, int16_t{1}, int16_t{32767}}) {
      q[0] = static_cast<int16_t>(v);
      k[0] = kv;
      ASSERT_EQ(dot(q, k), int64_t{v} * kv);
      ASSERT_TRUE(
          same_bits(attention_score(q, 0.5f, k, 3.0f, 0.125f),
                    oracle::mul(oracle::mul(oracle::from_int(int64_t{v} * kv), 1.5f), 0.125f)));
    }
}

TEST(ContractUnits, AttentionOutputMatchesOracle) {
  FloatSource src(9);
  int64_t weights = 0;
  while (weights < 1'000'000) {
    const auto positions = static_cast<size_t>(1 + src.pick(300));
    const auto head_dim = static_cast<size_t>(1 + src.pick(128));
    const size_t stride = head_dim + src.pick(3);
    std::vector<float> scores(positions), sv(positions);
    const int span = static_cast<int>(src.pick(12));
    for (auto& s : scores) s = src.pick(50) ? src.moderate(span) : src.any() * 1e-30f;
    for (auto& s : sv) s = src.pick(20) ? std::abs(src.moderate(6)) : std::abs(src.any());
    std::vector<int16_t> v((positions - 1) * stride + head_dim);
    for (auto& c : v) c = src.code();
    std::vector<float> out(head_dim);
    attention_output(scores, v, static_cast<int64_t>(stride), sv, out);
    const std::vector<float> want = oracle::attention_output(scores, v, stride, sv, head_dim);
    ASSERT_EQ(std::memcmp(out.data(), want.data(), out.size() * 4), 0);
    weights += static_cast<int64_t>(positions * head_dim);
  }
  std::vector<float> none, out(2);
  std::vector<int16_t> v(2);
  EXPECT_THROW(attention_output(none, v, 2, none, out), Error);
}

TEST(ContractUnits, LoraMatchesOracle) {
  FloatSource src(10);
  int64_t products = 0;
  while (products < 2'000'000) {
    const auto cols = static_cast<size_t>(1 + src.pick(300));
    const auto rows = static_cast<size_t>(1 + src.pick(300));
    const auto rank = static_cast<size_t>(1 + src.pick(16));
    std::vector<int16_t> xq(cols);
    for (auto& c : xq) c = src.code();
    const float xs = src.moderate(8), scale = src.moderate(3);
    std::vector<int8_t> a(rank * cols), b(rows * rank);
    for (auto& w : a) w = static_cast<int8_t>(static_cast<int>(src.pick(256)) - 128);
    for (auto& w : b) w = static_cast<int8_t>(static_cast<int>(src.pick(256)) - 128);
    std::vector<float> as(rank), bs(rows), y(rows);
    for (auto& s : as) s = std::abs(src.moderate(6));
    for (auto& s : bs) s = std::abs(src.moderate(6));
    for (auto& v : y) v = src.moderate(4);
    std::vector<float> want = y;
    std::vector<float> t(rank);
    for (size_t k = 0; k < rank; ++k) {
      std::vector<int16_t> row(a.begin() + static_cast<long>(k * cols),
                               a.begin() + static_cast<long>((k + 1) * cols));
      t[k] = oracle::mul(oracle::from_int(oracle::dot(xq.data(), row.data(), cols)),
                         oracle::mul(as[k], xs));
    }
    const oracle::Quantized tq = oracle::quantize(t);
    for (size_t r = 0; r < rows; ++r) {
      int64_t acc = 0;
      for (size_t k = 0; k < rank; ++k) acc += int64_t{tq.q[k]} * b[r * rank + k];
      want[r] = oracle::add(
          want[r],
          oracle::mul(oracle::mul(oracle::from_int(acc), oracle::mul(bs[r], tq.scale)), scale));
    }
    lora(xq, xs, a, as, b, bs, scale, y);
    ASSERT_EQ(std::memcmp(y.data(), want.data(), y.size() * 4), 0);
    products += static_cast<int64_t>(rank * (cols + rows));
  }
}

}  // namespace
}  // namespace etch::contract
