#include "run/int_kernels.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#define ETCH_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))

namespace etch::run::int_kernels {

namespace {

constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds half to even

inline float round_even(float v) {
  return (v + kMagic) - kMagic;
}

// ---- scalar: the spec, one element at a time ----

float quantize_scalar(const float* x, int64_t n, int16_t* q) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::abs(x[i]));
  if (amax == 0) {
    std::fill(q, q + n, int16_t{0});
    return 0;
  }
  const float inv = 32767.0f / amax;
  for (int64_t i = 0; i < n; ++i)
    q[i] = static_cast<int16_t>(std::clamp(round_even(x[i] * inv), -32767.0f, 32767.0f));
  return amax / 32767.0f;
}

int64_t dot_grouped_scalar(const int16_t* x, const int8_t* w, const int32_t* mult, int64_t n,
                           int64_t group) {
  int64_t acc = 0;
  for (int64_t g = 0; g * group < n; ++g) {
    int32_t partial = 0;
    for (int64_t i = g * group; i < std::min(n, (g + 1) * group); ++i)
      partial += int32_t{x[i]} * int32_t{w[i]};
    acc += int64_t{mult[g]} * partial;
  }
  return acc;
}

int64_t dot_expanded_scalar(const int16_t* x, const int16_t* w, int64_t n) {
  int64_t acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += int32_t{x[i]} * int32_t{w[i]};
  return acc;
}

void dot_expanded4_scalar(const int16_t* const* xs, const int16_t* w, int64_t n, int64_t* out) {
  for (int t = 0; t < 4; ++t) out[t] = dot_expanded_scalar(xs[t], w, n);
}

int64_t dot16_scalar(const int16_t* a, const int16_t* b, int64_t n) {
  int64_t acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += int32_t{a[i]} * int32_t{b[i]};
  return acc;
}

void exp_scalar(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = exp_spec(x[i]);
}

void silu_mul_scalar(float* g, const float* u, int64_t n) {
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.0f + exp_spec(-g[i])) * u[i];
}

void axpy16_scalar(float a, const int16_t* v, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] += a * static_cast<float>(v[i]);
}

// ---- fast: 16 lanes at a time ----

typedef int32_t I32x16 __attribute__((vector_size(64)));
typedef int64_t I64x16 __attribute__((vector_size(128)));
typedef int16_t I16x16 __attribute__((vector_size(32)));
typedef int8_t I8x16 __attribute__((vector_size(16)));
typedef float F32x16 __attribute__((vector_size(64)));

// Always inlined, so the vector return never crosses a call (GCC's -Wpsabi note is moot).
#pragma GCC diagnostic ignored "-Wpsabi"
template <typename V, typename T>
__attribute__((always_inline)) inline V load(const T* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

ETCH_MULTIVERSION float quantize_fast(const float* x, int64_t n, int16_t* q) {
  F32x16 m = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const F32x16 v = load<F32x16>(x + i);
    const F32x16 a = v < 0 ? -v : v;
    m = a > m ? a : m;
  }
  float amax = 0;
  for (int l = 0; l < 16; ++l) amax = std::max(amax, m[l]);
  for (; i < n; ++i) amax = std::max(amax, std::abs(x[i]));
  if (amax == 0) {
    std::fill(q, q + n, int16_t{0});
    return 0;
  }
  const float inv = 32767.0f / amax;
  const F32x16 lo = F32x16{} - 32767.0f, hi = F32x16{} + 32767.0f;
  for (i = 0; i + 16 <= n; i += 16) {
    F32x16 v = (load<F32x16>(x + i) * inv + kMagic) - kMagic;
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    const I16x16 out = __builtin_convertvector(v, I16x16);
    __builtin_memcpy(q + i, &out, sizeof out);
  }
  for (; i < n; ++i)
    q[i] = static_cast<int16_t>(std::clamp(round_even(x[i] * inv), -32767.0f, 32767.0f));
  return amax / 32767.0f;
}

ETCH_MULTIVERSION int64_t dot_grouped_fast(const int16_t* x, const int8_t* w, const int32_t* mult,
                                           int64_t n, int64_t group) {
  int64_t acc = 0;
  for (int64_t g = 0; g * group < n; ++g) {
    const int64_t end = std::min(n, (g + 1) * group);
    I32x16 lanes = {};
    int64_t i = g * group;
    for (; i + 16 <= end; i += 16)
      lanes += __builtin_convertvector(load<I16x16>(x + i), I32x16) *
               __builtin_convertvector(load<I8x16>(w + i), I32x16);
    int32_t partial = 0;
    for (int l = 0; l < 16; ++l) partial += lanes[l];
    for (; i < end; ++i) partial += int32_t{x[i]} * int32_t{w[i]};
    acc += int64_t{mult[g]} * partial;
  }
  return acc;
}

// Products are below 2^26 (|x| < 2^15, |w| < 2^11), so a block of 32 sums in 32 bits; GCC
// turns each block's widening multiply-add into pmaddwd-style instructions.
constexpr int64_t kBlock = 32;

ETCH_MULTIVERSION int64_t dot_expanded_fast(const int16_t* x, const int16_t* w, int64_t n) {
  int64_t acc = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    int32_t s = 0;
    for (int64_t i = b; i < e; ++i) s += int32_t{x[i]} * int32_t{w[i]};
    acc += s;
  }
  return acc;
}

// Four tokens per weight load: the weight row is the larger operand.
ETCH_MULTIVERSION void dot_expanded4_fast(const int16_t* const* xs, const int16_t* w, int64_t n,
                                          int64_t* out) {
  const int16_t *x0 = xs[0], *x1 = xs[1], *x2 = xs[2], *x3 = xs[3];
  int64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t i = b; i < e; ++i) {
      const int32_t wi = w[i];
      s0 += int32_t{x0[i]} * wi;
      s1 += int32_t{x1[i]} * wi;
      s2 += int32_t{x2[i]} * wi;
      s3 += int32_t{x3[i]} * wi;
    }
    a0 += s0;
    a1 += s1;
    a2 += s2;
    a3 += s3;
  }
  out[0] = a0;
  out[1] = a1;
  out[2] = a2;
  out[3] = a3;
}

ETCH_MULTIVERSION int64_t dot16_fast(const int16_t* a, const int16_t* b, int64_t n) {
  I64x16 lanes = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    lanes += __builtin_convertvector(__builtin_convertvector(load<I16x16>(a + i), I32x16) *
                                         __builtin_convertvector(load<I16x16>(b + i), I32x16),
                                     I64x16);
  int64_t acc = 0;
  for (int l = 0; l < 16; ++l) acc += lanes[l];
  for (; i < n; ++i) acc += int32_t{a[i]} * int32_t{b[i]};
  return acc;
}

// Element-wise loops: the vector units run the same IEEE operations per element, so the
// compiler's vectorisation of exp_spec cannot change a result.
ETCH_MULTIVERSION void exp_fast(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = exp_spec(x[i]);
}

ETCH_MULTIVERSION void silu_mul_fast(float* g, const float* u, int64_t n) {
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.0f + exp_spec(-g[i])) * u[i];
}

ETCH_MULTIVERSION void axpy16_fast(float a, const int16_t* v, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    F32x16 o = load<F32x16>(out + i);
    o += a * __builtin_convertvector(load<I16x16>(v + i), F32x16);
    __builtin_memcpy(out + i, &o, sizeof o);
  }
  for (; i < n; ++i) out[i] += a * static_cast<float>(v[i]);
}

}  // namespace

float exp_spec(float x) {
  x = std::clamp(x, -87.0f, 88.0f);
  const float k = round_even(x * 1.44269504f);
  // ln 2 in two parts, the first exact in 16 bits, so that k * ln2_hi is exact.
  const float r = (x - k * 0.693145752f) - k * 1.42860677e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float two_k =
      std::bit_cast<float>(static_cast<uint32_t>(static_cast<int32_t>(k) + 127) << 23);
  return p * two_k;
}

const Kernels& scalar() {
  static const Kernels k{quantize_scalar,      dot_grouped_scalar, dot_expanded_scalar,
                         dot_expanded4_scalar, dot16_scalar,       exp_scalar,
                         silu_mul_scalar,      axpy16_scalar};
  return k;
}

const Kernels& fast() {
  static const Kernels k{quantize_fast, dot_grouped_fast, dot_expanded_fast, dot_expanded4_fast,
                         dot16_fast,    exp_fast,         silu_mul_fast,     axpy16_fast};
  return k;
}

}  // namespace etch::run::int_kernels
