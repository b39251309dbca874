#include "run/kernels.hpp"

#include <cmath>

#define ETCH_MULTIVERSION __attribute__((target_clones("avx512f", "avx2,fma", "default")))

namespace etch::run::kernels {

// Eight partial sums, one per lane of an 8-float vector (one AVX2 register): every product
// w[i] * x[i] goes to lane i % 8, the lanes are added in order at the end. A matrix block
// keeps one such accumulator per (row, token) pair, which gives the CPU independent chains to
// overlap and lets each load feed several products, while every output is still summed in
// exactly the same order whatever the block shape.
typedef float Vec8 __attribute__((vector_size(32)));

namespace {

inline Vec8 load8(const float* p) {
  Vec8 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

inline float finish(Vec8 acc, const float* a, const float* b, int64_t from, int64_t n) {
  float tail = 0;
  for (int64_t j = from; j < n; ++j) tail += a[j] * b[j];
  float sum = 0;
  for (int l = 0; l < 8; ++l) sum += acc[l];
  return sum + tail;
}

template <int R, int T>
__attribute__((always_inline)) inline void block(const float* const* rows, const float* const* xs,
                                                 int64_t n, float* out) {
  Vec8 acc[R][T] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    Vec8 x[T];
    for (int t = 0; t < T; ++t) x[t] = load8(xs[t] + i);
    for (int r = 0; r < R; ++r) {
      const Vec8 w = load8(rows[r] + i);
      for (int t = 0; t < T; ++t) acc[r][t] += w * x[t];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) out[r * T + t] = finish(acc[r][t], rows[r], xs[t], i, n);
}

}  // namespace

ETCH_MULTIVERSION void dot_block(const float* const* rows, int row_count, const float* const* xs,
                                 int token_count, int64_t n, float* out) {
  if (row_count == 4 && token_count == 2) return block<4, 2>(rows, xs, n, out);
  if (row_count == 4 && token_count == 1) return block<4, 1>(rows, xs, n, out);
  if (row_count == 1 && token_count == 2) return block<1, 2>(rows, xs, n, out);
  block<1, 1>(rows, xs, n, out);
}

// Attention's dot products are not part of a matrix block; four chains hide the add latency.
ETCH_MULTIVERSION float dot(const float* a, const float* b, int64_t n) {
  Vec8 acc[4] = {};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k) acc[k] += load8(a + i + 8 * k) * load8(b + i + 8 * k);
  for (; i + 8 <= n; i += 8) acc[0] += load8(a + i) * load8(b + i);
  return finish(acc[0] + acc[1] + (acc[2] + acc[3]), a, b, i, n);
}

ETCH_MULTIVERSION void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void rms_norm(const float* x, const float* w, float* out, int64_t n, double eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

void swiglu(float* g, const float* u, int64_t n) {
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void softmax(float* x, int64_t n) {
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = std::fmax(max, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace etch::run::kernels
