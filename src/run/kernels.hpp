// The float engine's inner loops. Each hot loop is compiled for AVX-512, AVX2 and a
// portable baseline and chosen at run time (GCC function multi-versioning), so one binary
// runs everywhere and uses the widest vectors the CPU has.
#pragma once

#include <cstdint>

namespace etch::run::kernels {

float dot(const float* a, const float* b, int64_t n);
// y[i] += a * x[i]
void axpy(float a, const float* x, float* y, int64_t n);
// out = x * w / sqrt(mean(x^2) + eps), the sum of squares in double.
void rms_norm(const float* x, const float* w, float* out, int64_t n, double eps);
// In place: g[i] = silu(g[i]) * u[i].
void swiglu(float* g, const float* u, int64_t n);
// In place softmax over x[0, n), max-subtracted, the sum in double.
void softmax(float* x, int64_t n);

}  // namespace etch::run::kernels
