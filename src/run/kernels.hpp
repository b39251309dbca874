// The float engine's inner loops. Each hot loop is compiled for AVX-512, AVX2 and a
// portable baseline and chosen at run time (GCC function multi-versioning), so one binary
// runs everywhere and uses the widest vectors the CPU has.
#pragma once

#include <cstdint>

namespace etch::run::kernels {

float dot(const float* a, const float* b, int64_t n);
// out[r * token_count + t] = dot of rows[r] and xs[t], for row_count 1 or 4 and token_count 1
// or 2. Each output is summed in the same order whatever the block shape, so a token's result
// does not depend on how a batch was cut into blocks.
void dot_block(const float* const* rows, int row_count, const float* const* xs, int token_count,
               int64_t n, float* out);
// y[i] += a * x[i]
void axpy(float a, const float* x, float* y, int64_t n);
// out = x * w / sqrt(mean(x^2) + eps), the sum of squares in double.
void rms_norm(const float* x, const float* w, float* out, int64_t n, double eps);
// In place: g[i] = silu(g[i]) * u[i].
void swiglu(float* g, const float* u, int64_t n);
// In place softmax over x[0, n), max-subtracted, the sum in double.
void softmax(float* x, int64_t n);

}  // namespace etch::run::kernels
