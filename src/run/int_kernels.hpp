// The integer engine's inner loops, each in two implementations: `scalar`, plain loops that
// read like docs/chip-spec.md, and `fast`, explicit vector code compiled for AVX-512, AVX2 and
// a portable baseline and chosen at run time. Integer sums are associative and every float
// operation is element-wise or in an order the spec fixes, so the two agree bit for bit.
#pragma once

#include <cstdint>

namespace etch::run::int_kernels {

struct Kernels {
  // q[i] = round_half_even(x[i] * (32767 / amax)), returns the scale amax / 32767 (0 if x is 0).
  float (*quantize)(const float* x, int64_t n, int16_t* q);
  // sum over groups g of mult[g] * sum_{i in g} x[i] * w[i], groups of `group` elements.
  int64_t (*dot_grouped)(const int16_t* x, const int8_t* w, const int32_t* mult, int64_t n,
                         int64_t group);
  // sum of x[i] * w[i] for weights pre-multiplied by their group multiplier (|w| < 2^11): the
  // same integer as dot_grouped by distributivity. The scalar set computes it plainly too.
  int64_t (*dot_expanded)(const int16_t* x, const int16_t* w, int64_t n);
  // dot_expanded of one weight row with four activation rows: out[t] = dot_expanded(xs[t], w, n).
  void (*dot_expanded4)(const int16_t* const* xs, const int16_t* w, int64_t n, int64_t* out);
  // sum of a[i] * b[i].
  int64_t (*dot16)(const int16_t* a, const int16_t* b, int64_t n);
  // x[i] = exp(x[i]) by the spec's polynomial (no libm).
  void (*exp)(float* x, int64_t n);
  // g[i] = g[i] / (1 + exp(-g[i])) * u[i].
  void (*silu_mul)(float* g, const float* u, int64_t n);
  // out[i] += a * float(v[i]).
  void (*axpy16)(float a, const int16_t* v, float* out, int64_t n);
};

const Kernels& scalar();
const Kernels& fast();

// The spec's exp of one float (shared by both implementations' definitions).
float exp_spec(float x);

}  // namespace etch::run::int_kernels
