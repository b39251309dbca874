// Every kernel set this host runs (not only the dispatched one) against the contract's scalar
// units, bit for bit, on random and edge inputs and on lengths that are no multiple of the
// vector width.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "compile/compile.hpp"
#include "contract/contract.hpp"
#include "contract/oracle.hpp"
#include "core/error.hpp"
#include "run/int_kernels.hpp"

namespace etch::run::int_kernels {
namespace {

using contract::oracle::FloatSource;

const int64_t kLengths[] = {1,  2,   15,  16,  17,  31,  32,  33,  63,   64,
                            65, 100, 255, 256, 257, 511, 512, 513, 1000, 2055};

template <typename T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

bool same(float a, float b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

std::vector<int16_t> codes(FloatSource& src, int64_t n, bool with_min = true) {
  std::vector<int16_t> c(static_cast<size_t>(n));
  for (auto& v : c) v = with_min && src.pick(16) == 0 ? int16_t{-32768} : src.code();
  return c;
}

std::vector<float> floats(FloatSource& src, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  const uint64_t regime = src.pick(4);
  for (auto& v : x)
    v = regime == 0   ? src.any()
        : regime == 1 ? src.sign() * (static_cast<float>(src.pick(32767)) + 0.5f * src.pick(2))
                      : src.moderate(10);
  if (regime == 1) x[src.pick(x.size())] = 32767.0f;  // inv = 1: halves are ties
  return x;
}

TEST(KernelSetList, ScalarFirstAndFastestLast) {
  const auto sets = variants();
  ASSERT_GE(sets.size(), 2u);
  EXPECT_STREQ(sets.front()->name, "scalar");
  EXPECT_EQ(&scalar(), sets.front());
  EXPECT_EQ(&fast(), sets.back());
  for (const Kernels* k : sets) std::printf("kernel set this host runs: %s\n", k->name);
}

TEST(KernelSets, EveryHostSetEqualsTheContractUnits) {
  for (const Kernels* k : variants()) {
    SCOPED_TRACE(k->name);
    FloatSource src(42);
    for (int64_t n : kLengths)
      for (int trial = 0; trial < 6; ++trial) {
        SCOPED_TRACE(n);
        const auto count = static_cast<size_t>(n);
        // quantize
        const std::vector<float> x = floats(src, n);
        std::vector<int16_t> q(count), want_q(count);
        ASSERT_TRUE(same(k->quantize(x.data(), n, q.data()), contract::quantize(x, want_q)));
        ASSERT_TRUE(same(q, want_q));

        // the integer dot products
        const std::vector<int16_t> a = codes(src, n), b = codes(src, n);
        ASSERT_EQ(k->dot16(a.data(), b.data(), n), contract::dot(a, b));
        // block_dots: this test's own interleaving of kBlockRows weight rows (|w| < 2^11)
        // against 1 to 11 tokens, so that passes of every set end part full
        const auto pairs = static_cast<size_t>((n + 1) / 2);
        std::vector<std::vector<int16_t>> block_rows(static_cast<size_t>(kBlockRows),
                                                     std::vector<int16_t>(count));
        std::vector<int16_t> block(pairs * 2 * static_cast<size_t>(kBlockRows), 0);
        for (size_t i = 0; i < block_rows.size(); ++i)
          for (size_t j = 0; j < count; ++j) {
            const auto w = static_cast<int16_t>(static_cast<int>(src.pick(4095)) - 2047);
            block_rows[i][j] = w;
            block[j / 2 * 2 * kBlockRows + 2 * i + j % 2] = w;
          }
        const auto tokens = static_cast<int64_t>(1 + src.pick(11));
        std::vector<std::vector<int16_t>> token_rows;
        std::vector<const int16_t*> xs;
        for (int64_t t = 0; t < tokens; ++t) token_rows.push_back(codes(src, n));
        for (const auto& row : token_rows) xs.push_back(row.data());
        std::vector<int64_t> got(static_cast<size_t>(tokens * kBlockRows));
        k->block_dots(xs.data(), tokens, block.data(), n, got.data());
        for (int64_t t = 0; t < tokens; ++t)
          for (int64_t i = 0; i < kBlockRows; ++i)
            ASSERT_EQ(got[static_cast<size_t>(t * kBlockRows + i)],
                      contract::dot(token_rows[static_cast<size_t>(t)],
                                    block_rows[static_cast<size_t>(i)]))
                << "token " << t << " row " << i;
        // the same sums as floats with row and token scales (a block of `rows` rows, the rest
        // untouched): float(sum) * (row scale * token scale), bit for bit
        {
          const auto rows = static_cast<int64_t>(1 + src.pick(kBlockRows));
          std::vector<float> row_scales(kBlockRows), x_scales(static_cast<size_t>(tokens));
          for (auto& v : row_scales) v = std::abs(src.moderate(8));
          for (auto& v : x_scales) v = std::abs(src.moderate(8));
          const int64_t stride = rows + 3;
          std::vector<float> products(static_cast<size_t>(tokens * stride), -1.0f);
          k->block_products(xs.data(), x_scales.data(), tokens, block.data(), n, row_scales.data(),
                            rows, products.data(), stride);
          for (int64_t t = 0; t < tokens; ++t)
            for (int64_t i = 0; i < stride; ++i) {
              const float want =
                  i < rows
                      ? static_cast<float>(got[static_cast<size_t>(t * kBlockRows + i)]) *
                            (row_scales[static_cast<size_t>(i)] * x_scales[static_cast<size_t>(t)])
                      : -1.0f;
              ASSERT_EQ(std::bit_cast<uint32_t>(products[static_cast<size_t>(t * stride + i)]),
                        std::bit_cast<uint32_t>(want))
                  << "token " << t << " row " << i;
            }
        }

        // integer sums to floats, sums up to 2^40 so that the conversion rounds
        {
          std::vector<int64_t> sums(count);
          for (auto& v : sums)
            v = static_cast<int64_t>(src.pick(uint64_t{1} << 41)) - (int64_t{1} << 40);
          std::vector<float> row_scales(count), got_floats(count);
          for (auto& v : row_scales) v = src.pick(8) ? std::abs(src.moderate(8)) : src.any();
          const float x_scale = std::abs(src.moderate(8));
          k->scale_sums(sums.data(), n, row_scales.data(), x_scale, got_floats.data());
          for (size_t i = 0; i < count; ++i)
            ASSERT_TRUE(
                same(got_floats[i], static_cast<float>(sums[i]) * (row_scales[i] * x_scale)))
                << i;
        }

        // multiply-select-add on codes into every table size
        for (int64_t group : {int64_t{1}, int64_t{7}, int64_t{16}, int64_t{32}, int64_t{33},
                              int64_t{100}, int64_t{256}}) {
          const auto groups = static_cast<size_t>((n + group - 1) / group);
          std::vector<int32_t> mult(groups);
          for (auto& m : mult)
            m = src.pick(2) ? static_cast<int32_t>(src.pick(16)) : int32_t{1} << src.pick(8);
          const int bits = static_cast<int>(1 + src.pick(8));
          std::vector<int8_t> levels(size_t{1} << bits);
          for (auto& l : levels) l = static_cast<int8_t>(static_cast<int>(src.pick(256)) - 128);
          std::vector<uint8_t> cs(count);
          for (auto& v : cs) v = static_cast<uint8_t>(src.pick(levels.size()));
          ASSERT_EQ(k->msa_row(a.data(), cs.data(), levels.data(),
                               static_cast<int64_t>(levels.size()), mult.data(), n, group),
                    contract::msa_row(a, cs, levels, mult, group))
              << group << " " << bits;
        }

        // exp unit and SwiGLU
        std::vector<float> dv(count);
        for (auto& v : dv) v = src.pick(4) ? -std::abs(src.moderate(5)) : src.any();
        std::vector<uint32_t> e(count), want_e(count);
        k->exp_units(dv.data(), n, e.data());
        for (size_t i = 0; i < count; ++i) want_e[i] = contract::exp_unit(dv[i]);
        ASSERT_TRUE(same(e, want_e));
        std::vector<float> g = floats(src, n), u = floats(src, n);
        for (size_t i = 0; i < count; i += 3) g[i] = src.moderate(4);
        std::vector<float> want_g(count);
        for (size_t i = 0; i < count; ++i) want_g[i] = contract::swiglu(g[i], u[i]);
        k->swiglu(g.data(), u.data(), n);
        ASSERT_TRUE(same(g, want_g));

        // RMSNorm
        std::vector<float> nw(count);
        for (auto& v : nw) v = src.pick(8) ? src.moderate(2) : src.any();
        std::vector<int16_t> y(count), want_y(count);
        const float eps = 1e-5f;
        ASSERT_TRUE(same(k->rms_norm(x.data(), nw.data(), n, eps, y.data()),
                         contract::rms_norm(x, nw, eps, want_y)));
        ASSERT_TRUE(same(y, want_y));

        // attention scores: n positions of keys of up to 130 codes (-32768 among them), rows
        // and scales strided
        {
          const auto dim = static_cast<int64_t>(1 + src.pick(130));
          const int64_t key_stride = dim + static_cast<int64_t>(src.pick(40));
          const int64_t scale_stride = 1 + static_cast<int64_t>(src.pick(3));
          const std::vector<int16_t> qv = codes(src, dim),
                                     keys = codes(src, (n - 1) * key_stride + dim);
          std::vector<float> key_scales(count * static_cast<size_t>(scale_stride));
          for (auto& s : key_scales) s = std::abs(src.moderate(6));
          const float sq = std::abs(src.moderate(6)), inv = contract::attention_scale(dim);
          std::vector<float> got_scores(count);
          k->attention_scores(qv.data(), sq, keys.data(), key_stride, key_scales.data(),
                              scale_stride, n, dim, inv, got_scores.data());
          for (int64_t j = 0; j < n; ++j)
            ASSERT_TRUE(same(got_scores[static_cast<size_t>(j)],
                             contract::attention_score(
                                 qv, sq, {keys.data() + j * key_stride, static_cast<size_t>(dim)},
                                 key_scales[static_cast<size_t>(j * scale_stride)], inv)))
                << "position " << j;
        }

        // attention output: n positions of a head of up to 130 codes, rows strided
        const auto head_dim = static_cast<int64_t>(1 + src.pick(130));
        const int64_t stride = head_dim + static_cast<int64_t>(src.pick(40));
        std::vector<float> scores(count), sv(count);
        const int span = static_cast<int>(src.pick(12));
        for (auto& s : scores) s = src.moderate(span);
        for (auto& s : sv) s = std::abs(src.moderate(6));
        const std::vector<int16_t> v = codes(src, (n - 1) * stride + head_dim, false);
        std::vector<float> out(static_cast<size_t>(head_dim)), want_out(out.size());
        k->attention_output(scores.data(), n, v.data(), stride, sv.data(), head_dim, out.data());
        contract::attention_output(scores, v, stride, sv, want_out);
        ASSERT_TRUE(same(out, want_out));
      }
  }
}

TEST(KernelSets, QuantizeNonFiniteLikeTheContract) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = INFINITY;
  for (const std::vector<float>& x :
       {std::vector<float>{nan, 1.0f, 2.0f}, std::vector<float>{nan, 1.0f, -inf, 3.0f},
        std::vector<float>(37, nan), std::vector<float>{inf, -inf}}) {
    std::vector<int16_t> want(x.size());
    const float want_scale = contract::quantize(x, want);
    for (const Kernels* k : variants()) {
      std::vector<int16_t> q(x.size());
      EXPECT_TRUE(same(k->quantize(x.data(), static_cast<int64_t>(x.size()), q.data()), want_scale))
          << k->name;
      EXPECT_TRUE(same(q, want)) << k->name;
    }
  }
}

// Every entry of the exp table, and every shift of it: inputs 2^-12 apart cover each integer
// the unit rounds its input to (kExpInput * 2^-12 < 1) down to the floor and past it.
TEST(KernelSets, ExpUnitsEqualTheContractAtEveryTableEntry) {
  std::vector<float> d;
  for (int k = 0; static_cast<float>(k) * 0x1p-12f * contract::kExpInput < 18.0f * 1024; ++k)
    d.push_back(-static_cast<float>(k) * 0x1p-12f);
  std::vector<uint32_t> want(d.size());
  for (size_t i = 0; i < d.size(); ++i) want[i] = contract::exp_unit(d[i]);
  for (const Kernels* k : variants()) {
    std::vector<uint32_t> e(d.size());
    k->exp_units(d.data(), static_cast<int64_t>(d.size()), e.data());
    EXPECT_TRUE(same(e, want)) << k->name;
  }
}

// The widths the fast paths rely on, at their extremes: every product at its largest.
TEST(KernelSets, WorstCaseInputsStayExact) {
  for (const Kernels* k : variants()) {
    SCOPED_TRACE(k->name);
    const int64_t n = 4099;
    std::vector<int16_t> x(static_cast<size_t>(n), -32768);
    std::vector<int32_t> mult(static_cast<size_t>(n), 128);
    const std::vector<uint8_t> zero_codes(static_cast<size_t>(n), 0);
    const int8_t lowest[1] = {-128};
    EXPECT_EQ(k->msa_row(x.data(), zero_codes.data(), lowest, 1, mult.data(), n, 256),
              int64_t{32768} * 128 * 128 * n);
    const std::vector<int16_t> block(static_cast<size_t>((n + 1) / 2 * 2 * kBlockRows), -2047);
    const int16_t* xs[3] = {x.data(), x.data(), x.data()};
    int64_t sums[3 * kBlockRows];
    k->block_dots(xs, 3, block.data(), n, sums);
    for (const int64_t sum : sums) EXPECT_EQ(sum, int64_t{32768} * 2047 * n);
    EXPECT_EQ(k->dot16(x.data(), x.data(), n), int64_t{32768} * 32768 * n);
    // Keys of -32768 against such a query: every pair sum wraps 32 bits.
    std::vector<float> key_scores(9);
    const std::vector<float> unit_scales(9, 1.0f);
    k->attention_scores(x.data(), 1.0f, x.data(), 100, unit_scales.data(), 1, 9, 128, 1.0f,
                        key_scores.data());
    for (const float score : key_scores)
      EXPECT_TRUE(same(score, static_cast<float>(int64_t{32768} * 32768 * 128)));
    // The value sum of attention over more positions than one 32-bit block holds.
    const int64_t positions = 70001, head_dim = 19;
    const std::vector<float> scores(static_cast<size_t>(positions), 0.0f),
        sv(static_cast<size_t>(positions), 1.0f);
    const std::vector<int16_t> values(static_cast<size_t>(positions * head_dim), -32767);
    std::vector<float> got(static_cast<size_t>(head_dim)), want(got.size());
    k->attention_output(scores.data(), positions, values.data(), head_dim, sv.data(), head_dim,
                        got.data());
    contract::attention_output(scores, values, head_dim, sv, want);
    EXPECT_TRUE(same(got, want));
  }
}

// contract::attention_output over contract::attention_score of one query against rows
// [0, visible) of a kv head laid out as attention_block reads it.
std::vector<float> attention_oracle(const std::vector<int16_t>& q, float sq, int64_t visible,
                                    const std::vector<int16_t>& k, const std::vector<int16_t>& v,
                                    int64_t kv_stride, const std::vector<float>& sk,
                                    const std::vector<float>& sv, int64_t scale_stride,
                                    int64_t head_dim) {
  const auto dim = static_cast<size_t>(head_dim);
  const float inv = contract::attention_scale(head_dim);
  std::vector<float> scores(static_cast<size_t>(visible)), value_scales(scores.size());
  for (int64_t j = 0; j < visible; ++j) {
    scores[static_cast<size_t>(j)] = contract::attention_score(
        q, sq, {k.data() + j * kv_stride, dim}, sk[static_cast<size_t>(j * scale_stride)], inv);
    value_scales[static_cast<size_t>(j)] = sv[static_cast<size_t>(j * scale_stride)];
  }
  std::vector<float> out(dim);
  contract::attention_output(scores,
                             {v.data(), static_cast<size_t>((visible - 1) * kv_stride) + dim},
                             kv_stride, value_scales, out);
  return out;
}

struct AttentionCase {
  int64_t head_dim, kv_stride, scale_stride, count;
  std::vector<std::vector<int16_t>> q;
  std::vector<float> sq;
  std::vector<int64_t> visible;
  std::vector<int16_t> k, v;
  std::vector<float> sk, sv;
};

// Every set's attention_block equals the oracle per query, bit for bit.
void expect_attention_block(const AttentionCase& c) {
  const int64_t positions = *std::max_element(c.visible.begin(), c.visible.end());
  std::vector<const int16_t*> queries;
  for (const auto& query : c.q) queries.push_back(query.data());
  for (const Kernels* k : variants()) {
    SCOPED_TRACE(k->name);
    std::vector<std::vector<float>> out(static_cast<size_t>(c.count),
                                        std::vector<float>(static_cast<size_t>(c.head_dim)));
    std::vector<float*> outputs;
    for (auto& o : out) outputs.push_back(o.data());
    k->attention_block(queries.data(), c.sq.data(), c.visible.data(), c.count, c.k.data(),
                       c.v.data(), c.kv_stride, c.sk.data(), c.sv.data(), c.scale_stride,
                       c.head_dim, contract::attention_scale(c.head_dim), outputs.data());
    for (int64_t i = 0; i < c.count; ++i) {
      const auto at = static_cast<size_t>(i);
      ASSERT_TRUE(
          same(out[at], attention_oracle(c.q[at], c.sq[at], c.visible[at], c.k, c.v, c.kv_stride,
                                         c.sk, c.sv, c.scale_stride, c.head_dim)))
          << "query " << i << " of " << c.count << ", head_dim " << c.head_dim << ", "
          << c.visible[at] << " of " << positions << " positions";
    }
  }
}

TEST(KernelSets, AttentionBlockEqualsTheContractUnitsPerQuery) {
  FloatSource src(7);
  // Heads around the vector widths and the 256 codes of the byte-split dots (257 and up go
  // query by query); positions past the 256 of one 32-bit value block; up to 8 queries one
  // position per lane, more one query per lane.
  for (const int64_t head_dim : {1, 2, 31, 32, 33, 64, 100, 128, 256, 257})
    for (const int64_t count : {1, 2, 3, 4, 5, 7, 8, 9, 16}) {
      AttentionCase c;
      c.head_dim = head_dim;
      c.kv_stride = head_dim + static_cast<int64_t>(src.pick(20));
      c.scale_stride = 1 + static_cast<int64_t>(src.pick(3));
      c.count = count;
      const int64_t positions = 1 + static_cast<int64_t>(src.pick(count >= 8 ? 600 : 70));
      for (int64_t i = 0; i < count; ++i) {
        c.q.push_back(codes(src, head_dim));
        c.sq.push_back(std::abs(src.moderate(6)));
        c.visible.push_back(i == 0 ? positions : 1 + static_cast<int64_t>(src.pick(positions)));
      }
      c.k = codes(src, (positions - 1) * c.kv_stride + head_dim);
      c.v = codes(src, (positions - 1) * c.kv_stride + head_dim);
      for (int64_t j = 0; j < positions * c.scale_stride; ++j) {
        c.sk.push_back(std::abs(src.moderate(4)));
        c.sv.push_back(src.pick(9) == 0 ? 0.0f : std::abs(src.moderate(4)));
      }
      expect_attention_block(c);
    }
}

// The byte-split sums at their extremes: codes of -32768 and 32767 everywhere, equal scores
// (every weight code 32767) over more positions than one 32-bit block of the value sum holds.
TEST(KernelSets, AttentionBlockWorstCaseStaysExact) {
  for (const int16_t code : {int16_t{-32768}, int16_t{32767}})
    for (const int64_t count : {4, 16}) {
      AttentionCase c;
      c.head_dim = 256;
      c.kv_stride = 256;
      c.scale_stride = 1;
      c.count = count;
      const int64_t positions = 700;
      for (int64_t i = 0; i < c.count; ++i) {
        c.q.emplace_back(static_cast<size_t>(c.head_dim), i % 2 ? code : int16_t{-32768});
        c.sq.push_back(1.0f);
        c.visible.push_back(positions - i);
      }
      c.k.assign(static_cast<size_t>(positions * c.kv_stride), code);
      c.v.assign(c.k.size(), code);
      c.sk.assign(static_cast<size_t>(positions), 0.0f);  // every score 0: equal weights
      c.sv.assign(static_cast<size_t>(positions), 1.0f);
      expect_attention_block(c);
    }
}

// Equal scores over more positions than the 32-bit sums of the exps (2^16 each) of one pass
// hold, one position per lane (a decoded token's heads) and one query per lane.
TEST(KernelSets, AttentionBlockLongContextStaysExact) {
  for (const int64_t count : {4, 16}) {
    AttentionCase c;
    c.head_dim = 2;
    c.kv_stride = 2;
    c.scale_stride = 1;
    c.count = count;
    const int64_t positions = 40001;  // 40001 * 2^16 > 2^31
    for (int64_t i = 0; i < c.count; ++i) {
      c.q.push_back({32767, -32768});
      c.sq.push_back(1.0f);
      c.visible.push_back(positions - i);
    }
    c.k.assign(static_cast<size_t>(positions * c.kv_stride), 32767);
    c.v.assign(c.k.size(), -32767);
    c.sk.assign(static_cast<size_t>(positions), 0.0f);
    c.sv.assign(static_cast<size_t>(positions), 1.0f);
    expect_attention_block(c);
  }
}

// A random matrix of `format` stored as the .etch stores it (docs/etch-format.md), by this
// test's own packer: 8-bit codes a byte each and multiplier codes [rows][groups], row by row;
// narrower codes in code groups of 16 rows by 32 columns, `bits` vectors of 32 little-endian
// words each, word lane 2 i + e holding row i's codes of columns 2 s + e (s = 0..15) at bits
// s * bits of the lane's bits (vector q giving bits 16 q to 16 q + 15), and their multiplier
// codes a block of 16 rows at a time, group by group.
struct PackedTile {
  compile::Matrix matrix;
  std::vector<std::vector<uint8_t>> codes;        // [row][col], unpacked
  std::vector<std::vector<uint8_t>> multipliers;  // [row][group] multiplier codes, unpacked
  int32_t multiplier(int64_t r, int64_t j) const {
    if (matrix.format.multiplier_bits == 0) return 1;
    return contract::multiplier_value(
        matrix.format.kind,
        multipliers[static_cast<size_t>(r)][static_cast<size_t>(j / matrix.format.group)]);
  }
};

PackedTile random_tile(FloatSource& src, const contract::Format& format, int64_t rows,
                       int64_t cols) {
  PackedTile t;
  compile::Matrix& m = t.matrix;
  m.name = "tile";
  m.format = format;
  m.rows = rows;
  m.cols = cols;
  const bool grouped = format.bits < 8;
  const int64_t groups = (cols + format.group - 1) / format.group, blocks = (rows + 15) / 16;
  m.codes.assign(static_cast<size_t>(grouped ? blocks * groups * 64 * format.bits : rows * cols),
                 0);
  t.codes.assign(static_cast<size_t>(rows), std::vector<uint8_t>(static_cast<size_t>(cols)));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      const auto c = static_cast<uint8_t>(src.pick(uint64_t{1} << format.bits));
      t.codes[static_cast<size_t>(r)][static_cast<size_t>(j)] = c;
      if (!grouped) {
        m.codes[static_cast<size_t>(r * cols + j)] = c;
        continue;
      }
      const int64_t group_byte = (r / 16 * groups + j / 32) * 64 * format.bits;
      const int64_t lane = r % 16 * 2 + j % 2;
      for (int i = 0; i < format.bits; ++i) {
        const int64_t bit = j % 32 / 2 * format.bits + i;  // in the lane
        if (c >> i & 1)
          m.codes[static_cast<size_t>(group_byte + bit / 16 * 64 + 2 * lane + bit % 16 / 8)] |=
              static_cast<uint8_t>(1 << bit % 8);
      }
    }
  const int64_t tiles = (rows + contract::kTileRows - 1) / contract::kTileRows;
  const int64_t table = int64_t{1} << format.bits;
  m.levels.resize(static_cast<size_t>(tiles * table));
  for (int64_t i = 0; i < tiles * table; ++i)
    m.levels[static_cast<size_t>(i)] =
        format.fitted_levels ? static_cast<int8_t>(static_cast<int>(src.pick(255)) - 127)
                             : contract::fixed_level(format, static_cast<uint32_t>(i % table));
  t.multipliers.assign(static_cast<size_t>(rows),
                       std::vector<uint8_t>(static_cast<size_t>(groups)));
  if (format.multiplier_bits > 0) {
    m.multipliers.resize(static_cast<size_t>(grouped ? blocks * groups * 16 : rows * groups));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        const auto c = static_cast<uint8_t>(src.pick(uint64_t{1} << format.multiplier_bits));
        t.multipliers[static_cast<size_t>(r)][static_cast<size_t>(g)] = c;
        m.multipliers[static_cast<size_t>(grouped ? (r / 16 * groups + g) * 16 + r % 16
                                                  : r * groups + g)] = c;
      }
  }
  m.scales.assign(static_cast<size_t>(rows), 1.0f);
  return t;
}

// Every format's packed rows, through every set, against the contract's unit on the unpacked
// codes: tiles of several level tables, rows and columns that are no multiple of the vector
// width, the group or a byte.
TEST(KernelSets, PackedRowsEqualTheContractUnitInEveryFormat) {
  std::vector<contract::Format> formats = {contract::make_format(contract::WeightFormat::kInt8, 8),
                                           contract::make_format(contract::WeightFormat::kFp4, 4)};
  for (int bits : {2, 3, 4, 5, 6, 8})
    formats.push_back(contract::make_format(contract::WeightFormat::kHc, bits));
  FloatSource src(7);
  for (const contract::Format& format : formats)
    for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{1, 1},
                                     {3, 31},
                                     {70, 33},
                                     {130, 256},
                                     {65, 257},
                                     {2, 1000},
                                     {5, 2055},
                                     {67, 768},
                                     {9, 64}}) {
      SCOPED_TRACE(format.name() + " " + std::to_string(rows) + "x" + std::to_string(cols));
      const PackedTile tile = random_tile(src, format, rows, cols);
      const compile::MatrixView view = tile.matrix.view();
      const PackedMatrix packed(view);
      const std::vector<int16_t> x = codes(src, cols);
      const size_t table = size_t{1} << format.bits;
      std::vector<int16_t> expanded(static_cast<size_t>(cols));
      std::vector<int64_t> want_rows(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<int32_t> mult(static_cast<size_t>(view.groups()));
        for (int64_t g = 0; g < view.groups(); ++g)
          mult[static_cast<size_t>(g)] = tile.multiplier(r, g * format.group);
        const std::span<const int8_t> levels(
            tile.matrix.levels.data() + static_cast<size_t>(r / contract::kTileRows) * table,
            table);
        const int64_t want =
            contract::msa_row(x, tile.codes[static_cast<size_t>(r)], levels, mult, format.group);
        want_rows[static_cast<size_t>(r)] = want;
        for (const Kernels* k : variants()) {
          int64_t got = 0;
          k->packed_dots(x.data(), packed, r, 1, &got);
          ASSERT_EQ(got, want) << k->name << " row " << r;
          k->expand_row(packed, r, expanded.data());
          for (int64_t j = 0; j < cols; ++j)
            ASSERT_EQ(expanded[static_cast<size_t>(j)],
                      levels[tile.codes[static_cast<size_t>(r)][static_cast<size_t>(j)]] *
                          mult[static_cast<size_t>(j / format.group)])
                << k->name << " row " << r << " col " << j;
        }
      }
      // Blocks of kBlockRows rows, the last reaching past the matrix.
      for (const Kernels* k : variants())
        for (int64_t first = 0; first < rows; first += kBlockRows) {
          std::vector<int16_t> block(static_cast<size_t>((cols + 1) / 2 * 2 * kBlockRows), 7);
          k->expand_block(packed, first, block.data());
          for (int64_t i = 0; i < kBlockRows; ++i)
            for (int64_t j = 0; j < (cols + 1) / 2 * 2; ++j) {
              const int64_t r = first + i;
              int32_t want = 0;
              if (r < rows && j < cols) {
                const auto code = tile.codes[static_cast<size_t>(r)][static_cast<size_t>(j)];
                want = tile.matrix
                           .levels[static_cast<size_t>(r / contract::kTileRows) * table + code] *
                       tile.multiplier(r, j);
              }
              ASSERT_EQ(block[static_cast<size_t>(j / 2 * 2 * kBlockRows + 2 * i + j % 2)], want)
                  << k->name << " row " << r << " col " << j;
            }
        }
      // Many rows in one call, from every row of a code block of 16 (the sets take rows in
      // pairs, blocks of 16 and tiles of 64); the same rows as floats with their scales:
      // float(sum) * (row scale * x scale), bit for bit.
      std::vector<float> scales(static_cast<size_t>(rows));
      for (float& scale : scales) scale = std::ldexp(src.unit(), -static_cast<int>(src.pick(20)));
      compile::MatrixView scaled = view;
      scaled.scales = scales;
      const PackedMatrix scaled_packed(scaled);
      const float x_scale = std::ldexp(src.unit(), -7);
      for (const Kernels* k : variants())
        for (int64_t from = 0; from < std::min<int64_t>(17, rows); ++from) {
          std::vector<int64_t> got(static_cast<size_t>(rows - from));
          k->packed_dots(x.data(), packed, from, rows - from, got.data());
          ASSERT_TRUE(std::equal(got.begin(), got.end(), want_rows.begin() + from))
              << k->name << " from row " << from;
          std::vector<float> products(static_cast<size_t>(rows - from));
          k->packed_products(x.data(), x_scale, scaled_packed, from, rows - from, products.data());
          for (int64_t r = from; r < rows; ++r) {
            const float want = static_cast<float>(want_rows[static_cast<size_t>(r)]) *
                               (scales[static_cast<size_t>(r)] * x_scale);
            ASSERT_EQ(std::bit_cast<uint32_t>(products[static_cast<size_t>(r - from)]),
                      std::bit_cast<uint32_t>(want))
                << k->name << " from row " << from << " row " << r;
          }
        }
    }
}

// Packed rows at the widths' extremes: every product at its largest, on rows long enough to
// fill the vector sets' 32-bit blocks many times over, whole chunks and the tail alike, and
// blocks of eight rows of whole chunks (the hc sets' own path, which applies the multiplier as
// a byte multiply).
TEST(KernelSets, PackedRowsAtTheirLargestStayExact) {
  FloatSource src(11);
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (const auto& [rows, cols] :
         {std::pair<int64_t, int64_t>{2, 4099}, std::pair<int64_t, int64_t>{10, 4096}}) {
      const contract::Format format = contract::make_format(contract::WeightFormat::kHc, bits);
      PackedTile tile = random_tile(src, format, rows, cols);
      std::fill(tile.matrix.levels.begin(), tile.matrix.levels.end(), int8_t{-128});
      std::fill(tile.matrix.multipliers.begin(), tile.matrix.multipliers.end(), uint8_t{15});
      const compile::MatrixView view = tile.matrix.view();
      const PackedMatrix packed(view);
      const std::vector<int16_t> x(static_cast<size_t>(cols), -32768);
      for (const Kernels* k : variants()) {
        std::vector<int64_t> got(static_cast<size_t>(rows));
        k->packed_dots(x.data(), packed, 0, rows, got.data());
        for (int64_t g : got)
          EXPECT_EQ(g, int64_t{32768} * 128 * 15 * cols) << k->name << " hc" << bits;
      }
    }
  // fp4 at its largest: level -12 (code 15) times multiplier 2^7 (code 7).
  const contract::Format fp4 = contract::make_format(contract::WeightFormat::kFp4, 4);
  PackedTile tile = random_tile(src, fp4, 10, 4096);
  std::fill(tile.matrix.codes.begin(), tile.matrix.codes.end(), uint8_t{0xff});
  std::fill(tile.matrix.multipliers.begin(), tile.matrix.multipliers.end(), uint8_t{7});
  const compile::MatrixView view = tile.matrix.view();
  const PackedMatrix packed(view);
  const std::vector<int16_t> x(4096, -32768);
  for (const Kernels* k : variants()) {
    std::vector<int64_t> got(10);
    k->packed_dots(x.data(), packed, 0, 10, got.data());
    for (int64_t g : got) EXPECT_EQ(g, int64_t{32768} * 12 * 128 * 4096) << k->name << " fp4";
  }
}

// The width bound the vector sets rely on is checked when a matrix is read, not assumed.
TEST(PackedMatrix, RefusesLevelsAndMultipliersNoFormatHas) {
  FloatSource src(3);
  PackedTile tile = random_tile(src, contract::make_format(contract::WeightFormat::kFp4, 4), 2, 64);
  tile.matrix.levels[3] = 100;  // fp4's levels are at most 12; times 2^7 overflows 2^11
  EXPECT_THROW(PackedMatrix{tile.matrix.view()}, Error);
  tile = random_tile(src, contract::make_format(contract::WeightFormat::kHc, 3), 2, 64);
  tile.matrix.multipliers[1] = 16;  // a 4-bit code
  EXPECT_THROW(PackedMatrix{tile.matrix.view()}, Error);
}

}  // namespace
}  // namespace etch::run::int_kernels
