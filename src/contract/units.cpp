// Contract v2: the scalar reference of every arithmetic unit, written as contract.hpp defines
// it. Only binary32 and integer arithmetic; the exp table is built with integers alone.
#include <algorithm>
#include <array>
#include <cmath>

#include "contract/contract.hpp"
#include "core/error.hpp"

namespace etch::contract {

namespace {

// Adding and subtracting 1.5 * 2^23 rounds a binary32 of magnitude below 2^22 to an integer,
// ties to even, whatever the host's rounding helpers do.
constexpr float kRoundMagic = 12582912.0f;
constexpr float kRoundLimit = 4194304.0f;  // 2^22

float round_even(float v) {
  return (v + kRoundMagic) - kRoundMagic;
}

constexpr float kCodeMax = static_cast<float>(kActivationMax);

int16_t to_code(float v) {
  if (std::isnan(v)) return 0;
  const float r = round_even(v);
  return static_cast<int16_t>(r < -kCodeMax ? -kCodeMax : r > kCodeMax ? kCodeMax : r);
}

// 2^-(f / 2^kExpFractionBits) for every f, in Q62 fixed point: x = 2^(-1/2^10) by bisection on
// x^(2^10) = 1/2 (ten squarings), then its powers. Truncation errors stay below 2^-50, far
// under the distance of any entry from a rounding boundary (the tests check every entry).
constexpr int kQ = 62;
using U128 = unsigned __int128;

uint64_t mul_q(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>(static_cast<U128>(a) * b >> kQ);
}

std::array<uint32_t, 1 << kExpFractionBits> build_exp_table() {
  const uint64_t one = uint64_t{1} << kQ;
  uint64_t lo = one / 2, hi = one;
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    uint64_t p = mid;
    for (int s = 0; s < kExpFractionBits; ++s) p = mul_q(p, p);
    (p < one / 2 ? lo : hi) = mid;
  }
  std::array<uint32_t, 1 << kExpFractionBits> table{};
  uint64_t power = one;
  for (auto& entry : table) {
    entry = static_cast<uint32_t>((power + (uint64_t{1} << (kQ - 17))) >> (kQ - 16));
    power = mul_q(power, hi);
  }
  return table;
}

void require(bool ok, const char* unit, const char* what) {
  if (!ok) fail("contract::{}: {}", unit, what);
}

}  // namespace

float quantize(std::span<const float> x, std::span<int16_t> q) {
  require(x.size() == q.size(), "quantize", "x and q differ in length");
  float amax = 0;
  for (float v : x) {
    const float a = std::abs(v);
    if (a > amax) amax = a;
  }
  const float inv = kCodeMax / amax;
  if (amax == 0 || std::isinf(inv)) {
    std::fill(q.begin(), q.end(), int16_t{0});
    return 0;
  }
  for (size_t i = 0; i < x.size(); ++i) q[i] = to_code(x[i] * inv);
  return amax / kCodeMax;
}

int64_t dot(std::span<const int16_t> a, std::span<const int16_t> b) {
  require(a.size() == b.size(), "dot", "operands differ in length");
  int64_t acc = 0;
  for (size_t i = 0; i < a.size(); ++i) acc += int32_t{a[i]} * int32_t{b[i]};
  return acc;
}

int64_t msa_row(std::span<const int16_t> x, std::span<const uint8_t> codes,
                std::span<const int8_t> levels, std::span<const int32_t> multipliers,
                int64_t group) {
  require(group >= 1 && group <= kMaxGroup, "msa_row", "group outside 1..kMaxGroup");
  require(x.size() == codes.size(), "msa_row", "x and codes differ in length");
  const auto n = static_cast<int64_t>(x.size());
  require(static_cast<int64_t>(multipliers.size()) >= (n + group - 1) / group, "msa_row",
          "fewer multipliers than groups");
  int64_t acc = 0;
  for (int64_t g = 0; g * group < n; ++g) {
    // The adder tree's partial: |x| <= 2^15 and |level| <= 2^7 over at most 2^8 columns.
    int32_t partial = 0;
    for (int64_t j = g * group; j < std::min(n, (g + 1) * group); ++j) {
      const uint8_t c = codes[static_cast<size_t>(j)];
      require(c < levels.size(), "msa_row", "code outside the level table");
      partial += int32_t{x[static_cast<size_t>(j)]} * int32_t{levels[c]};
    }
    acc += int64_t{multipliers[static_cast<size_t>(g)]} * partial;
  }
  return acc;
}

float msa_output(int64_t acc, float row_scale, float x_scale) {
  return static_cast<float>(acc) * (row_scale * x_scale);
}

float rms_norm(std::span<const float> x, std::span<const float> w, float eps,
               std::span<int16_t> out) {
  require(x.size() == w.size() && x.size() == out.size() && !x.empty(), "rms_norm",
          "x, w and out must have one equal, non-zero length");
  std::vector<int16_t> q(x.size());
  const float s = quantize(x, q);
  const int64_t ss = dot(q, q);
  const float a = static_cast<float>(ss) / static_cast<float>(x.size());
  const float b = a * (s * s);
  const float r = std::sqrt(b + eps);
  const float inv = 1.0f / r;
  const float g = s * inv;
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = (static_cast<float>(q[i]) * g) * w[i];
  return quantize(y, out);
}

void rope(std::span<float> vec, int64_t head_dim, std::span<const float> cos,
          std::span<const float> sin, RopeLayout layout) {
  const auto pairs = static_cast<int64_t>(cos.size());
  require(sin.size() == cos.size() && head_dim > 0 && 2 * pairs <= head_dim &&
              static_cast<int64_t>(vec.size()) % head_dim == 0,
          "rope", "vec must be whole heads and cos, sin one entry per pair within a head");
  for (size_t h = 0; h < vec.size(); h += static_cast<size_t>(head_dim)) {
    float* v = vec.data() + h;
    for (int64_t i = 0; i < pairs; ++i) {
      float& a = layout == RopeLayout::kInterleaved ? v[2 * i] : v[i];
      float& b = layout == RopeLayout::kInterleaved ? v[2 * i + 1] : v[i + pairs];
      const float c = cos[static_cast<size_t>(i)], s = sin[static_cast<size_t>(i)];
      const float a2 = a * c - b * s;
      const float b2 = b * c + a * s;
      a = a2;
      b = b2;
    }
  }
}

float attention_score(std::span<const int16_t> q, float sq, std::span<const int16_t> k, float sk,
                      float inv_sqrt_dim) {
  return static_cast<float>(dot(q, k)) * (sq * sk) * inv_sqrt_dim;
}

float attention_scale(int64_t head_dim) {
  require(head_dim > 0, "attention_scale", "head_dim must be positive");
  return 1.0f / std::sqrt(static_cast<float>(head_dim));
}

std::span<const uint32_t> exp_table() {
  static const auto table = build_exp_table();
  return table;
}

uint32_t exp_unit(float d) {
  const float p = d * kExpInput;
  // Also false for NaN: -inf and NaN give 0 with the rest of the floor.
  if (!(p > -kRoundLimit)) return 0;
  const int32_t u = p > 0 ? 0 : static_cast<int32_t>(round_even(p));
  if (u < kExpFloor) return 0;
  const int32_t m = -u;
  const int i = m >> kExpFractionBits;
  const uint32_t f = static_cast<uint32_t>(m) & ((1u << kExpFractionBits) - 1);
  return (exp_table()[f] + ((uint32_t{1} << i) >> 1)) >> i;
}

void attention_output(std::span<const float> scores, std::span<const int16_t> v, int64_t v_stride,
                      std::span<const float> sv, std::span<float> out) {
  const size_t positions = scores.size(), head_dim = out.size();
  require(positions > 0 && sv.size() == positions, "attention_output",
          "scores and sv must have one equal, non-zero length");
  require(v_stride >= static_cast<int64_t>(head_dim) &&
              v.size() >= (positions - 1) * static_cast<size_t>(v_stride) + head_dim,
          "attention_output", "v is shorter than positions rows of head_dim codes");
  float m = scores[0];
  for (float s : scores)
    if (s > m) m = s;
  std::vector<float> w(positions);
  int64_t total = 0;
  for (size_t j = 0; j < positions; ++j) {
    const uint32_t e = exp_unit(scores[j] - m);
    total += e;
    w[j] = static_cast<float>(e) * sv[j];
  }
  std::vector<int16_t> wq(positions);
  const float ws = quantize(w, wq);
  const float step = ws / static_cast<float>(total);
  for (size_t i = 0; i < head_dim; ++i) {
    int64_t acc = 0;
    for (size_t j = 0; j < positions; ++j)
      acc += int32_t{wq[j]} * int32_t{v[j * static_cast<size_t>(v_stride) + i]};
    out[i] = static_cast<float>(acc) * step;
  }
}

float swiglu(float g, float u) {
  float sig;
  if (g >= 0) {
    sig = 65536.0f / (65536.0f + static_cast<float>(exp_unit(-g)));
  } else {
    const auto e = static_cast<float>(exp_unit(g));
    sig = e / (65536.0f + e);
  }
  return (g * sig) * u;
}

float add(float x, float y) {
  return x + y;
}

void lora(std::span<const int16_t> xq, float xs, std::span<const int8_t> a,
          std::span<const float> a_scales, std::span<const int8_t> b,
          std::span<const float> b_scales, float scale, std::span<float> y) {
  const size_t cols = xq.size(), rank = a_scales.size(), rows = y.size();
  require(a.size() == rank * cols && b.size() == rows * rank && b_scales.size() == rows && rank > 0,
          "lora", "A must be rank x cols, B rows x rank, with one scale per row of each");
  std::vector<float> t(rank);
  for (size_t k = 0; k < rank; ++k) {
    int64_t acc = 0;
    for (size_t j = 0; j < cols; ++j) acc += int32_t{xq[j]} * int32_t{a[k * cols + j]};
    t[k] = static_cast<float>(acc) * (a_scales[k] * xs);
  }
  std::vector<int16_t> tq(rank);
  const float ts = quantize(t, tq);
  for (size_t r = 0; r < rows; ++r) {
    int64_t acc = 0;
    for (size_t k = 0; k < rank; ++k) acc += int32_t{tq[k]} * int32_t{b[r * rank + k]};
    y[r] = y[r] + (static_cast<float>(acc) * (b_scales[r] * ts)) * scale;
  }
}

}  // namespace etch::contract
