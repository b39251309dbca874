// Every unit of the RTL library (src/rtl/sv) simulated in Verilator and compared bit for bit
// with the contract's scalar reference (or, for the binary32 building blocks, with the host's
// IEEE binary32 arithmetic, which is what the contract specifies). Each test drives at least
// 100k random inputs plus the edges and stops at the first mismatch, printing the inputs and
// both outputs. NaN results compare as a class: the contract defines no NaN payloads, and the
// RTL always produces the quiet NaN 0x7FC00000.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "Vmsa_tile_fp4.h"
#include "Vmsa_tile_hc3.h"
#include "Vmsa_tile_int8.h"
#include "Vrtl_scalar_units.h"
#include "Vrtl_stream_units.h"
#include "contract/contract.hpp"
#include "verilated.h"

namespace {

namespace contract = etch::contract;

constexpr int kRandomCases = 100000;

uint32_t bits(float f) {
  return std::bit_cast<uint32_t>(f);
}
float from_bits(uint32_t u) {
  return std::bit_cast<float>(u);
}
std::string hex(float f) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "0x%08x (%.9g)", bits(f), static_cast<double>(f));
  return buffer;
}
bool same(float rtl, float reference) {
  return (std::isnan(rtl) && std::isnan(reference)) || bits(rtl) == bits(reference);
}

// Values every binary32 unit must get right: zeros, the subnormal range's ends, the normal
// range's ends, infinities, NaN, and ordinary numbers around 1.
const std::vector<float>& edge_floats() {
  static const std::vector<float> edges = [] {
    std::vector<float> e;
    for (uint32_t u :
         {0x00000000u, 0x00000001u, 0x00000002u, 0x007FFFFFu, 0x00400000u, 0x00800000u,
          0x00800001u, 0x7F7FFFFFu, 0x7F000000u, 0x7F800000u, 0x7FC00000u, 0x7F800001u,
          0x3F800000u, 0x3F800001u, 0x3F7FFFFFu, 0x3F000000u, 0x40000000u, 0x40400000u,
          0x46FFFE00u, 0x4B400000u, 0x34000000u, 0x33800000u, 0x0C800000u, 0x1F800000u}) {
      e.push_back(from_bits(u));
      e.push_back(from_bits(u | 0x80000000u));
    }
    return e;
  }();
  return edges;
}

// A random binary32 from a mix that reaches every class: raw bit patterns (NaN, infinities,
// subnormals included), ordinary magnitudes, tiny magnitudes near the subnormal range, and
// the edges.
float random_float(std::mt19937_64& rng) {
  const uint32_t r = static_cast<uint32_t>(rng());
  switch (rng() % 10) {
    case 0:
    case 1:
    case 2:
      return from_bits(r);
    case 3:
      return from_bits((r & 0x807FFFFFu) | ((rng() % 8) << 23));  // subnormal and tiny
    case 4:
      return edge_floats()[rng() % edge_floats().size()];
    default:
      return from_bits((r & 0x807FFFFFu) | ((100 + rng() % 55) << 23));  // 2^-27 .. 2^27
  }
}

// A second operand, half the time within a few binades of the first so sums cancel and
// quotients land near 1.
float random_partner(std::mt19937_64& rng, float a) {
  if (rng() % 2) return random_float(rng);
  const uint32_t u = bits(a);
  const int exponent = static_cast<int>((u >> 23) & 0xFF) + static_cast<int>(rng() % 5) - 2;
  if (exponent <= 0 || exponent >= 255) return random_float(rng);
  uint32_t fraction = u & 0x7FFFFF;
  if (rng() % 2)
    fraction ^= static_cast<uint32_t>(rng()) & 0xFF;  // differs in low bits only
  else
    fraction = static_cast<uint32_t>(rng()) & 0x7FFFFF;
  return from_bits((static_cast<uint32_t>(rng()) & 0x80000000u) |
                   (static_cast<uint32_t>(exponent) << 23) | fraction);
}

class ScalarUnits : public ::testing::Test {
 protected:
  std::unique_ptr<Vrtl_scalar_units> top = std::make_unique<Vrtl_scalar_units>();
  void set(float a, float b, float c = 0, float d = 0) {
    top->a = bits(a);
    top->b = bits(b);
    top->c = bits(c);
    top->d = bits(d);
    top->eval();
  }
  // Every ordered pair of edges, then random pairs.
  template <typename Check>
  void over_pairs(Check check) {
    for (float a : edge_floats())
      for (float b : edge_floats())
        if (!check(a, b)) return;
    std::mt19937_64 rng(0x5eed);
    for (int i = 0; i < kRandomCases; ++i) {
      const float a = random_float(rng);
      if (!check(a, random_partner(rng, a))) return;
    }
  }
};

TEST_F(ScalarUnits, MultiplyMatchesBinary32) {
  over_pairs([&](float a, float b) {
    set(a, b);
    const float rtl = from_bits(top->mul), reference = a * b;
    EXPECT_TRUE(same(rtl, reference))
        << hex(a) << " * " << hex(b) << ": rtl " << hex(rtl) << ", binary32 " << hex(reference);
    return same(rtl, reference);
  });
}

TEST_F(ScalarUnits, AddMatchesBinary32) {
  over_pairs([&](float a, float b) {
    set(a, b);
    const float rtl = from_bits(top->add), reference = a + b;
    EXPECT_TRUE(same(rtl, reference))
        << hex(a) << " + " << hex(b) << ": rtl " << hex(rtl) << ", binary32 " << hex(reference);
    return same(rtl, reference);
  });
}

TEST_F(ScalarUnits, DivideMatchesBinary32) {
  over_pairs([&](float a, float b) {
    set(a, b);
    const float rtl = from_bits(top->div), reference = a / b;
    EXPECT_TRUE(same(rtl, reference))
        << hex(a) << " / " << hex(b) << ": rtl " << hex(rtl) << ", binary32 " << hex(reference);
    return same(rtl, reference);
  });
}

TEST_F(ScalarUnits, SquareRootMatchesBinary32) {
  over_pairs([&](float a, float) {
    set(a, 0);
    const float rtl = from_bits(top->sqrt), reference = std::sqrt(a);
    EXPECT_TRUE(same(rtl, reference))
        << "sqrt " << hex(a) << ": rtl " << hex(rtl) << ", binary32 " << hex(reference);
    return same(rtl, reference);
  });
}

TEST_F(ScalarUnits, Int64ConversionMatchesBinary32) {
  std::mt19937_64 rng(0x1264);
  std::vector<int64_t> values = {0,
                                 1,
                                 -1,
                                 (int64_t{1} << 24) + 1,
                                 (int64_t{1} << 24) + 3,
                                 std::numeric_limits<int64_t>::max(),
                                 std::numeric_limits<int64_t>::min(),
                                 65536,
                                 -65536};
  for (int i = 0; i < kRandomCases; ++i)
    values.push_back(static_cast<int64_t>(rng()) >> (rng() % 64));  // every magnitude
  for (int64_t v : values) {
    top->integer_in = v;
    top->eval();
    const float rtl = from_bits(top->from_int64), reference = static_cast<float>(v);
    ASSERT_EQ(bits(rtl), bits(reference))
        << "float(" << v << "): rtl " << hex(rtl) << ", binary32 " << hex(reference);
  }
}

// The activation code: round to nearest even, clamp to +-32767, NaN to 0. The oracle is the
// C library's nearbyint in the default rounding mode, not the contract's own rounding trick.
int16_t code_oracle(float v) {
  if (std::isnan(v)) return 0;
  const float r = std::nearbyint(v);
  return static_cast<int16_t>(std::clamp(r, -32767.0f, 32767.0f));
}

TEST_F(ScalarUnits, CodeConversionRoundsToEvenAndClamps) {
  std::vector<float> values = edge_floats();
  for (float v : {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 32766.5f, 32767.0f, 32767.5f, -32767.5f, 32768.0f,
                  0.49999997f, 16383.5f})
    values.push_back(v);
  std::mt19937_64 rng(0xc0de);
  for (int i = 0; i < kRandomCases; ++i) {
    values.push_back(random_float(rng));
    // Halves and their neighbours over the whole code range.
    const float half = static_cast<float>(static_cast<int>(rng() % 70000) - 35000) + 0.5f;
    values.push_back(std::nextafter(half, rng() % 2 ? 1e9f : -1e9f));
    values.push_back(half);
  }
  for (float v : values) {
    set(v, 0);
    const int16_t rtl = static_cast<int16_t>(top->to_code);
    ASSERT_EQ(rtl, code_oracle(v)) << "code(" << hex(v) << ")";
  }
}

TEST_F(ScalarUnits, ExpUnitMatchesContract) {
  std::vector<float> values = edge_floats();
  // Every table index and shift: each m in 0..17409 from both sides of its rounding boundary.
  for (int m = 0; m <= -contract::kExpFloor + 1; ++m) {
    const float d = -static_cast<float>(m) / contract::kExpInput;
    values.push_back(d);
    values.push_back(std::nextafter(d, -1.0f));
    values.push_back(std::nextafter(d, 1.0f));
    values.push_back((-static_cast<float>(m) - 0.5f) / contract::kExpInput);
  }
  // Every upper half-word (sign, exponent and 7 fraction bits) with random lower bits.
  std::mt19937_64 rng(0xe4f);
  for (uint32_t high = 0; high < 65536; ++high)
    values.push_back(from_bits((high << 16) | (static_cast<uint32_t>(rng()) & 0xFFFF)));
  for (int i = 0; i < kRandomCases; ++i)
    values.push_back(-std::ldexp(static_cast<float>(rng() % (1u << 24)), -20));  // -16 .. 0
  for (float d : values) {
    set(d, 0);
    ASSERT_EQ(top->exp, contract::exp_unit(d)) << "exp_unit(" << hex(d) << ")";
  }
}

TEST_F(ScalarUnits, SwigluMatchesContract) {
  over_pairs([&](float g, float u) {
    set(g, u);
    const float rtl = from_bits(top->swiglu_out), reference = contract::swiglu(g, u);
    EXPECT_TRUE(same(rtl, reference)) << "swiglu(" << hex(g) << ", " << hex(u) << "): rtl "
                                      << hex(rtl) << ", contract " << hex(reference);
    return same(rtl, reference);
  });
}

TEST_F(ScalarUnits, MatrixOutputMatchesContract) {
  std::mt19937_64 rng(0x0a7);
  for (int i = 0; i < kRandomCases; ++i) {
    const int64_t acc = static_cast<int64_t>(rng()) >> (rng() % 64);
    const float row_scale = random_float(rng), x_scale = random_float(rng);
    top->integer_in = acc;
    set(row_scale, x_scale);
    const float rtl = from_bits(top->msa_out);
    const float reference = contract::msa_output(acc, row_scale, x_scale);
    ASSERT_TRUE(same(rtl, reference))
        << "msa_output(" << acc << ", " << hex(row_scale) << ", " << hex(x_scale) << "): rtl "
        << hex(rtl) << ", contract " << hex(reference);
  }
}

TEST_F(ScalarUnits, RopePairMatchesContract) {
  std::mt19937_64 rng(0x4095);
  for (int i = 0; i < kRandomCases; ++i) {
    const float a = random_float(rng), b = random_partner(rng, a);
    // Angles as the engines tabulate them, and arbitrary values.
    const float angle = static_cast<float>(rng() % 100000) * 0.001f;
    const float c = rng() % 4 ? std::cos(angle) : random_float(rng);
    const float s = rng() % 4 ? std::sin(angle) : random_float(rng);
    set(a, b, c, s);
    float pair[2] = {a, b};
    const float cos_table[1] = {c}, sin_table[1] = {s};
    contract::rope(pair, 2, cos_table, sin_table, contract::RopeLayout::kInterleaved);
    const float rtl_a = from_bits(top->rope_a), rtl_b = from_bits(top->rope_b);
    ASSERT_TRUE(same(rtl_a, pair[0]) && same(rtl_b, pair[1]))
        << "rope(" << hex(a) << ", " << hex(b) << ", cos " << hex(c) << ", sin " << hex(s)
        << "): rtl " << hex(rtl_a) << ", " << hex(rtl_b) << "; contract " << hex(pair[0]) << ", "
        << hex(pair[1]);
  }
}

// ---- Streaming units ----

class StreamUnits : public ::testing::Test {
 public:
  std::unique_ptr<Vrtl_stream_units> top = std::make_unique<Vrtl_stream_units>();
  static constexpr int kLanes = 4;
  void tick() {
    top->clk = 0;
    top->eval();
    top->clk = 1;
    top->eval();
  }
  // The RTL quantizer over x: a clear, the max pass, then the quantize pass.
  float quantize(const std::vector<float>& x, std::vector<int16_t>& q) {
    top->quant_clear = 1;
    tick();
    top->quant_clear = 0;
    top->quant_max_valid = 1;
    for (float v : x) {
      top->quant_x = bits(v);
      tick();
    }
    top->quant_max_valid = 0;
    q.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      top->quant_x = bits(x[i]);
      top->eval();
      q[i] = static_cast<int16_t>(top->quant_q);
    }
    return from_bits(top->quant_scale);
  }
  // The kLanes-lane quantizer over x, kLanes elements per cycle, the last cycle's unused lanes
  // +0 (as etch_core feeds it).
  float quantize_lanes(const std::vector<float>& x, std::vector<int16_t>& q) {
    auto present = [&](size_t i) {
      for (size_t l = 0; l < kLanes; ++l)
        top->quant_lanes_x[l] = i + l < x.size() ? bits(x[i + l]) : 0;
    };
    top->quant_lanes_clear = 1;
    tick();
    top->quant_lanes_clear = 0;
    top->quant_lanes_max_valid = 1;
    for (size_t i = 0; i < x.size(); i += kLanes) {
      present(i);
      tick();
    }
    top->quant_lanes_max_valid = 0;
    q.resize(x.size());
    for (size_t i = 0; i < x.size(); i += kLanes) {
      present(i);
      top->eval();
      for (size_t l = 0; l < kLanes && i + l < x.size(); ++l)
        q[i + l] = static_cast<int16_t>(top->quant_lanes_q >> (16 * l));
    }
    return from_bits(top->quant_lanes_scale);
  }
  // The RTL dot accumulator over a and b, kLanes pairs per cycle, zero padded.
  int64_t dot(const std::vector<int16_t>& a, const std::vector<int16_t>& b) {
    top->dot_clear = 1;
    tick();
    top->dot_clear = 0;
    top->dot_valid = 1;
    for (size_t i = 0; i < a.size(); i += kLanes) {
      uint64_t packed_a = 0, packed_b = 0;
      for (size_t l = 0; l < kLanes && i + l < a.size(); ++l) {
        packed_a |= uint64_t{static_cast<uint16_t>(a[i + l])} << (16 * l);
        packed_b |= uint64_t{static_cast<uint16_t>(b[i + l])} << (16 * l);
      }
      top->dot_a = packed_a;
      top->dot_b = packed_b;
      tick();
    }
    top->dot_valid = 0;
    return static_cast<int64_t>(top->dot_acc);
  }
};

// A vector the way activations look (one scale of magnitudes) or arbitrary binary32 values.
std::vector<float> random_vector(std::mt19937_64& rng, size_t n) {
  std::vector<float> x(n);
  const bool ordinary = rng() % 4 != 0;
  const float scale = std::ldexp(1.0f, static_cast<int>(rng() % 40) - 20);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = ordinary ? normal(rng) * scale : random_float(rng);
  if (rng() % 16 == 0) std::fill(x.begin(), x.end(), 0.0f);
  return x;
}

std::string show(const std::vector<float>& x) {
  std::string s;
  for (float v : x) s += hex(v) + " ";
  return s;
}

TEST_F(StreamUnits, QuantizerMatchesContract) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // amax zero, subnormal, at the edge where 32767 / amax overflows, infinite; NaN elements.
  std::vector<std::vector<float>> edges = {{0.0f},
                                           {-0.0f, 0.0f},
                                           {from_bits(1)},
                                           {from_bits(0x007FFFFF), -1e-40f},
                                           {std::ldexp(1.0f, -113)},
                                           {std::ldexp(1.0f, -112)},
                                           {std::ldexp(1.5f, -113), 1e-36f},
                                           {inf},
                                           {-inf, 2.0f},
                                           {nan},
                                           {nan, 1.0f, -3.0f},
                                           {inf, nan, -inf},
                                           {1.0f, -1.0f, 0.5f, 1.0f / 65534.0f, 3.0f / 65534.0f},
                                           {3.4e38f, -3.4e38f, 1.0f}};
  std::mt19937_64 rng(0x9a47);
  size_t elements = 0;
  for (size_t vector = 0; elements < 2 * kRandomCases; ++vector) {
    const std::vector<float> x =
        vector < edges.size() ? edges[vector] : random_vector(rng, 1 + rng() % 24);
    elements += x.size();
    std::vector<int16_t> q, expected(x.size());
    const float scale = quantize(x, q);
    const float expected_scale = contract::quantize(x, expected);
    ASSERT_TRUE(same(scale, expected_scale) && q == expected)
        << "quantize of " << show(x) << ": rtl scale " << hex(scale) << ", contract "
        << hex(expected_scale)
        << (q == expected
                ? ""
                : "; codes differ at index " +
                      std::to_string(std::mismatch(q.begin(), q.end(), expected.begin()).first -
                                     q.begin()));
    // The same vector kLanes elements per cycle: one amax across the lanes, the same codes.
    std::vector<int16_t> lane_q;
    const float lane_scale = quantize_lanes(x, lane_q);
    ASSERT_TRUE(same(lane_scale, expected_scale) && lane_q == expected)
        << "quantize of " << show(x) << " in " << kLanes << " lanes: rtl scale " << hex(lane_scale)
        << ", contract " << hex(expected_scale);
  }
}

std::vector<int16_t> random_codes(std::mt19937_64& rng, size_t n) {
  std::vector<int16_t> c(n);
  const int range = rng() % 2 ? 32768 : 256;
  for (int16_t& v : c) v = static_cast<int16_t>(static_cast<int>(rng() % (2 * range)) - range);
  return c;
}

TEST_F(StreamUnits, AttentionScoreMatchesContract) {
  std::mt19937_64 rng(0x5c0);
  for (int i = 0; i < kRandomCases; ++i) {
    const int64_t head_dim = 1 + static_cast<int64_t>(rng() % 160);
    const std::vector<int16_t> q = random_codes(rng, head_dim), k = random_codes(rng, head_dim);
    const float sq = std::abs(random_float(rng)), sk = std::abs(random_float(rng));
    const float inv = contract::attention_scale(head_dim);
    top->score_clear = 1;
    tick();
    top->score_clear = 0;
    top->score_valid = 1;
    top->score_q_scale = bits(sq);
    top->score_k_scale = bits(sk);
    top->score_inv_sqrt_dim = bits(inv);
    for (int64_t j = 0; j < head_dim; j += kLanes) {
      uint64_t packed_q = 0, packed_k = 0;
      for (int64_t l = 0; l < kLanes && j + l < head_dim; ++l) {
        packed_q |= uint64_t{static_cast<uint16_t>(q[j + l])} << (16 * l);
        packed_k |= uint64_t{static_cast<uint16_t>(k[j + l])} << (16 * l);
      }
      top->score_q = packed_q;
      top->score_k = packed_k;
      tick();
    }
    top->score_valid = 0;
    top->eval();
    const float rtl = from_bits(top->score);
    const float reference = contract::attention_score(q, sq, k, sk, inv);
    ASSERT_TRUE(same(rtl, reference))
        << "head_dim " << head_dim << ", sq " << hex(sq) << ", sk " << hex(sk) << ": rtl "
        << hex(rtl) << ", contract " << hex(reference);
  }
}

// Softmax and the attention output of one head from the RTL units: softmax_weights' three
// passes over the scores, one dot_accumulator run per output element over the weight codes and
// that element's value codes, and attention_value.
TEST_F(StreamUnits, AttentionOutputMatchesContract) {
  std::mt19937_64 rng(0xa77);
  size_t outputs = 0;
  while (outputs < kRandomCases) {
    const size_t positions = 1 + rng() % 48, head_dim = 1 + rng() % 8;
    outputs += head_dim;
    std::vector<float> scores(positions), sv(positions);
    const float spread = static_cast<float>(1 + rng() % 30);
    std::uniform_real_distribution<float> uniform(-spread, spread);
    for (size_t j = 0; j < positions; ++j) {
      scores[j] = rng() % 32 ? uniform(rng) : random_float(rng);
      sv[j] = rng() % 32 ? std::abs(uniform(rng)) * 1e-3f : std::abs(random_float(rng));
    }
    if (rng() % 8 == 0) std::fill(scores.begin(), scores.end(), scores[0]);  // ties for the max
    const std::vector<int16_t> v = random_codes(rng, positions * head_dim);

    top->soft_clear = 1;
    tick();
    top->soft_clear = 0;
    top->soft_valid = 1;
    for (uint8_t pass = 0; pass < 2; ++pass) {
      top->soft_pass = pass;
      for (size_t j = 0; j < positions; ++j) {
        top->soft_score = bits(scores[j]);
        top->soft_v_scale = bits(sv[j]);
        tick();
      }
    }
    top->soft_valid = 0;
    top->soft_pass = 2;
    std::vector<int16_t> weights(positions);
    for (size_t j = 0; j < positions; ++j) {
      top->soft_score = bits(scores[j]);
      top->soft_v_scale = bits(sv[j]);
      top->eval();
      weights[j] = static_cast<int16_t>(top->soft_weight_code);
    }
    const uint32_t step = top->soft_step;
    std::vector<float> out(head_dim), expected(head_dim);
    for (size_t i = 0; i < head_dim; ++i) {
      std::vector<int16_t> column(positions);
      for (size_t j = 0; j < positions; ++j) column[j] = v[j * head_dim + i];
      top->value_acc = static_cast<uint64_t>(dot(weights, column));
      top->value_step = step;
      top->eval();
      out[i] = from_bits(top->value_out);
    }
    contract::attention_output(scores, v, static_cast<int64_t>(head_dim), sv, expected);
    for (size_t i = 0; i < head_dim; ++i)
      ASSERT_TRUE(same(out[i], expected[i]))
          << "attention output " << i << " over scores " << show(scores) << "and value scales "
          << show(sv) << ": rtl " << hex(out[i]) << ", contract " << hex(expected[i]);
  }
}

// RMSNorm end to end from the RTL units in the order the contract defines: quantizer, sum of
// squares on the dot accumulator, the scalar part, the per-element part, the quantizer again.
TEST_F(StreamUnits, RmsNormComposesToTheContract) {
  auto scalar = std::make_unique<Vrtl_scalar_units>();
  std::mt19937_64 rng(0x4a5);
  size_t elements = 0;
  while (elements < kRandomCases) {
    const size_t n = 1 + rng() % 96;
    elements += n;
    const std::vector<float> x = random_vector(rng, n);
    std::vector<float> w(n);
    for (float& v : w)
      v = rng() % 8 ? 1.0f + 0.1f * static_cast<float>(rng() % 21) - 1.0f : random_float(rng);
    const float eps = rng() % 2 ? 1e-5f : 1e-6f;

    std::vector<int16_t> q;
    const float s = quantize(x, q);
    const int64_t ss = dot(q, q);
    scalar->integer_in = ss;
    scalar->a = bits(s);
    scalar->b = bits(eps);
    scalar->c = static_cast<uint32_t>(n);
    scalar->eval();
    const uint32_t gain = scalar->rms_gain;
    std::vector<float> y(n);
    for (size_t i = 0; i < n; ++i) {
      scalar->code_in = static_cast<uint16_t>(q[i]);
      scalar->a = gain;
      scalar->b = bits(w[i]);
      scalar->eval();
      y[i] = from_bits(scalar->rms_element);
    }
    std::vector<int16_t> out;
    const float out_scale = quantize(y, out);

    std::vector<int16_t> expected(n);
    const float expected_scale = contract::rms_norm(x, w, eps, expected);
    ASSERT_TRUE(same(out_scale, expected_scale) && out == expected)
        << "rms_norm of " << show(x) << ": rtl scale " << hex(out_scale) << ", contract "
        << hex(expected_scale) << (out == expected ? "" : "; codes differ");
  }
}

// ---- The multiply-select-add tile ----

// Drives one tile model over rows x n weights in groups of `group` columns (the last short,
// padded with zero activations and codes) and compares every row with contract::msa_row.
template <typename Tile>
void check_tile(const contract::Format& format, int64_t group, int rows, int multiplier_bits,
                uint64_t seed) {
  auto tile = std::make_unique<Tile>();
  const auto tick = [&] {
    tile->clk = 0;
    tile->eval();
    tile->clk = 1;
    tile->eval();
  };
  // Verilator holds a port of up to 64 bits as an integer, a wider one as 32-bit words.
  const auto put = [](auto& port, size_t offset, unsigned width, uint64_t value) {
    for (unsigned b = 0; b < width; ++b) {
      const size_t at = offset + b;
      const bool bit = (value >> b) & 1;
      if constexpr (std::is_integral_v<std::remove_reference_t<decltype(port)>>) {
        using Port = std::remove_reference_t<decltype(port)>;
        const Port mask = static_cast<Port>(Port{1} << at);
        port = bit ? static_cast<Port>(port | mask) : static_cast<Port>(port & ~mask);
      } else {
        const uint32_t mask = uint32_t{1} << (at % 32);
        port[at / 32] = bit ? (port[at / 32] | mask) : (port[at / 32] & ~mask);
      }
    }
  };
  const int levels_count = 1 << format.bits;
  std::mt19937_64 rng(seed);
  int checked_rows = 0;
  while (checked_rows < kRandomCases) {
    std::vector<int8_t> levels(static_cast<size_t>(levels_count));
    for (int l = 0; l < levels_count; ++l)
      levels[l] = format.fitted_levels ? static_cast<int8_t>(rng())
                                       : contract::fixed_level(format, static_cast<uint32_t>(l));
    const int64_t n = 1 + static_cast<int64_t>(rng() % (3 * group));
    const int64_t groups = (n + group - 1) / group;
    std::vector<int16_t> x(static_cast<size_t>(n));
    for (int16_t& v : x)
      v = rng() % 8 == 0 ? (rng() % 2 ? int16_t{32767} : int16_t{-32768})
                         : static_cast<int16_t>(rng());
    std::vector<std::vector<uint8_t>> codes(rows, std::vector<uint8_t>(static_cast<size_t>(n)));
    std::vector<std::vector<uint32_t>> multiplier_codes(rows, std::vector<uint32_t>(groups));
    for (int r = 0; r < rows; ++r) {
      for (uint8_t& c : codes[r]) c = static_cast<uint8_t>(rng() % levels_count);
      for (uint32_t& m : multiplier_codes[r])
        m = multiplier_bits ? static_cast<uint32_t>(rng() % (1u << multiplier_bits)) : 0;
    }

    for (int l = 0; l < levels_count; ++l)
      put(tile->levels, static_cast<size_t>(l) * 8, 8, static_cast<uint8_t>(levels[l]));
    tile->clear = 1;
    tick();
    tile->clear = 0;
    tile->valid = 1;
    for (int64_t g = 0; g < groups; ++g) {
      for (int64_t j = 0; j < group; ++j) {
        const int64_t col = g * group + j;
        put(tile->x, static_cast<size_t>(j) * 16, 16,
            col < n ? static_cast<uint16_t>(x[static_cast<size_t>(col)]) : 0);
        for (int r = 0; r < rows; ++r)
          put(tile->codes, static_cast<size_t>(r * group + j) * format.bits, format.bits,
              col < n ? codes[r][static_cast<size_t>(col)] : 0);
      }
      for (int r = 0; r < rows; ++r)
        put(tile->multiplier_codes, static_cast<size_t>(r) * std::max(multiplier_bits, 1),
            std::max(multiplier_bits, 1), multiplier_codes[r][static_cast<size_t>(g)]);
      tick();
    }
    tile->valid = 0;
    for (int r = 0; r < rows; ++r) {
      std::vector<int32_t> multipliers(groups);
      for (int64_t g = 0; g < groups; ++g)
        multipliers[g] = contract::multiplier_value(format.kind, multiplier_codes[r][g]);
      const int64_t expected = contract::msa_row(x, codes[r], levels, multipliers, group);
      const auto* acc = tile->acc.data();
      const int64_t rtl =
          static_cast<int64_t>(uint64_t{acc[2 * r]} | (uint64_t{acc[2 * r + 1]} << 32));
      ASSERT_EQ(rtl, expected) << format.name() << " tile row " << r << " over " << n
                               << " columns, case " << checked_rows / rows;
    }
    checked_rows += rows;
  }
}

TEST(MsaTile, Hc3MatchesContract) {
  check_tile<Vmsa_tile_hc3>(contract::make_format(contract::WeightFormat::kHc, 3), 32, 4, 4,
                            0x43c3);
}
TEST(MsaTile, Fp4MatchesContract) {
  check_tile<Vmsa_tile_fp4>(contract::make_format(contract::WeightFormat::kFp4, 4), 32, 4, 3,
                            0xf4f4);
}
TEST(MsaTile, Int8MatchesContract) {
  check_tile<Vmsa_tile_int8>(contract::make_format(contract::WeightFormat::kInt8, 8), 8, 16, 0,
                             0x1818);
}

}  // namespace
