#include "run/kernels.hpp"

#include <cmath>

#define ETCH_MULTIVERSION __attribute__((target_clones("avx512f", "avx2,fma", "default")))

namespace etch::run::kernels {

// Sixteen independent partial sums, one per lane of a 16-float vector: GCC lowers the vector
// type to one AVX-512 register, two AVX2 registers or four SSE registers, and every variant
// adds the same products in the same order, so results do not depend on the CPU.
typedef float Vec16 __attribute__((vector_size(64)));

namespace {

inline Vec16 load16(const float* p) {
  Vec16 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

inline float finish(Vec16 acc, const float* a, const float* b, int64_t from, int64_t n) {
  float tail = 0;
  for (int64_t j = from; j < n; ++j) tail += a[j] * b[j];
  float sum = 0;
  for (int l = 0; l < 16; ++l) sum += acc[l];
  return sum + tail;
}

}  // namespace

ETCH_MULTIVERSION float dot(const float* a, const float* b, int64_t n) {
  Vec16 acc = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) acc += load16(a + i) * load16(b + i);
  return finish(acc, a, b, i, n);
}

ETCH_MULTIVERSION void dot_4x4(const float* const rows[4], const float* const xs[4], int64_t n,
                                float out[16]) {
  Vec16 acc[4][4] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const Vec16 x0 = load16(xs[0] + i), x1 = load16(xs[1] + i), x2 = load16(xs[2] + i),
                x3 = load16(xs[3] + i);
    for (int r = 0; r < 4; ++r) {
      const Vec16 w = load16(rows[r] + i);
      acc[r][0] += w * x0;
      acc[r][1] += w * x1;
      acc[r][2] += w * x2;
      acc[r][3] += w * x3;
    }
  }
  for (int r = 0; r < 4; ++r)
    for (int t = 0; t < 4; ++t) out[r * 4 + t] = finish(acc[r][t], rows[r], xs[t], i, n);
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
