// Independent oracles of the contract's units, written from contract.hpp's text: every binary32
// operation is evaluated exactly (or, for sqrt, to 64 bits) in long double and rounded to float
// once. x87 long double has a 64-bit significand, at least 2 * 24 + 2 bits, so this double
// rounding gives the correctly rounded binary32 result for + - * / and sqrt.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "contract/contract.hpp"

namespace etch::contract::oracle {

using LD = long double;
static_assert(std::numeric_limits<LD>::digits >= 50, "the oracle needs an extended long double");

inline float F(LD v) {
  return static_cast<float>(v);
}
inline float mul(float a, float b) {
  return F(LD{a} * LD{b});
}
inline float div(float a, float b) {
  return F(LD{a} / LD{b});
}
inline float add(float a, float b) {
  return F(LD{a} + LD{b});
}
inline float sub(float a, float b) {
  return F(LD{a} - LD{b});
}
inline float sqrt(float a) {
  return F(sqrtl(LD{a}));
}
inline float from_int(int64_t v) {
  return F(static_cast<LD>(v));  // exact in long double, one rounding to float
}

struct Quantized {
  std::vector<int16_t> q;
  float scale = 0;
};

inline Quantized quantize(const std::vector<float>& x) {
  Quantized out;
  out.q.assign(x.size(), 0);
  LD amax = 0;
  for (float v : x)
    if (!std::isnan(v)) amax = std::max(amax, fabsl(LD{v}));
  if (amax == 0) return out;
  const float inv = div(32767.0f, static_cast<float>(amax));
  if (std::isinf(inv)) return out;
  for (size_t i = 0; i < x.size(); ++i) {
    const float p = mul(x[i], inv);
    if (std::isnan(p)) continue;     // code 0
    const LD r = nearbyintl(LD{p});  // default mode: to nearest, ties to even
    out.q[i] = static_cast<int16_t>(std::clamp<LD>(r, -32767, 32767));
  }
  out.scale = div(static_cast<float>(amax), 32767.0f);
  return out;
}

inline int64_t dot(const int16_t* a, const int16_t* b, size_t n) {
  int64_t acc = 0;
  for (size_t i = 0; i < n; ++i) acc += int64_t{a[i]} * int64_t{b[i]};
  return acc;
}

// exp_table()[f]: the integer nearest 2^(16 - f / 1024).
inline uint32_t exp_entry(uint32_t f) {
  return static_cast<uint32_t>(llroundl(exp2l(16.0L - LD(f) / 1024.0L)));
}

inline uint32_t exp_unit(float d) {
  const float p = mul(d, kExpInput);
  if (std::isnan(p) || p < -1e9f) return 0;
  LD u = nearbyintl(LD{p});
  if (u > 0) u = 0;
  if (u < kExpFloor) return 0;
  const auto m = static_cast<int64_t>(-u);
  const int64_t i = m / 1024, f = m % 1024;
  const uint64_t half = i == 0 ? 0 : uint64_t{1} << (i - 1);
  return static_cast<uint32_t>((exp_entry(static_cast<uint32_t>(f)) + half) >> i);
}

inline float swiglu(float g, float u) {
  float sig;
  if (g >= 0) {
    sig = div(65536.0f, add(65536.0f, from_int(exp_unit(-g))));
  } else {
    const float e = from_int(exp_unit(g));
    sig = div(e, add(65536.0f, e));
  }
  return mul(mul(g, sig), u);
}

inline Quantized rms_norm(const std::vector<float>& x, const std::vector<float>& w, float eps) {
  const Quantized xq = quantize(x);
  const int64_t ss = dot(xq.q.data(), xq.q.data(), x.size());
  const float a = div(from_int(ss), from_int(static_cast<int64_t>(x.size())));
  const float b = mul(a, mul(xq.scale, xq.scale));
  const float r = sqrt(add(b, eps));
  const float g = mul(xq.scale, div(1.0f, r));
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = mul(mul(from_int(xq.q[i]), g), w[i]);
  return quantize(y);
}

inline std::vector<float> attention_output(const std::vector<float>& scores,
                                           const std::vector<int16_t>& v, size_t stride,
                                           const std::vector<float>& sv, size_t head_dim) {
  float m = scores[0];
  for (float s : scores) m = std::max(m, s);
  int64_t total = 0;
  std::vector<float> w(scores.size());
  for (size_t j = 0; j < scores.size(); ++j) {
    const uint32_t e = exp_unit(sub(scores[j], m));
    total += e;
    w[j] = mul(from_int(e), sv[j]);
  }
  const Quantized wq = quantize(w);
  std::vector<float> out(head_dim);
  for (size_t i = 0; i < head_dim; ++i) {
    int64_t acc = 0;
    for (size_t j = 0; j < scores.size(); ++j) acc += int64_t{wq.q[j]} * v[j * stride + i];
    out[i] = mul(from_int(acc), div(wq.scale, from_int(total)));
  }
  return out;
}

// Random binary32 values over the whole range with the edges the units must handle: zeros of
// both signs, subnormals, the largest finite values, integers and halves (rounding ties).
class FloatSource {
 public:
  explicit FloatSource(uint64_t seed) : rng_(seed) {}
  float any() {
    switch (pick(10)) {
      case 0:
        return pick(2) ? 0.0f : -0.0f;
      case 1:
        return sign() * std::ldexp(static_cast<float>(1 + pick(1 << 22)), -149);  // subnormal
      case 2:
        return sign() * std::numeric_limits<float>::max() / static_cast<float>(1 + pick(4));
      case 3:
        return sign() * (static_cast<float>(pick(40000)) + 0.5f);
      case 4:
        return sign() * static_cast<float>(pick(40000));
      default:
        return sign() * std::ldexp(unit(), static_cast<int>(pick(60)) - 30);
    }
  }
  // A value of typical magnitude 2^-span..2^span around 1.
  float moderate(int span = 8) {
    return sign() * std::ldexp(unit(), static_cast<int>(pick(2 * span)) - span);
  }
  float unit() { return std::uniform_real_distribution<float>(0.5f, 1.0f)(rng_); }
  float sign() { return pick(2) ? 1.0f : -1.0f; }
  uint64_t pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  int16_t code() {
    switch (pick(8)) {
      case 0:
        return 32767;
      case 1:
        return -32767;
      case 2:
        return 0;
      default:
        return static_cast<int16_t>(static_cast<int64_t>(pick(65535)) - 32767);
    }
  }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

}  // namespace etch::contract::oracle
