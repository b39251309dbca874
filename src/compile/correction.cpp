// Low-rank corrections of the quantization error (etch build --correct-rank, docs/chip-spec.md
// "Correcting the quantization error"): QERA's closed form, computed by a randomized SVD.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <span>

#include "compile/compile.hpp"

namespace etch::compile {

namespace {

// A set of vectors of one length, each contiguous: the columns of a tall matrix.
struct Columns {
  int64_t count = 0, length = 0;
  std::vector<double> values;  // [count][length]
  Columns(int64_t count_, int64_t length_)
      : count(count_), length(length_), values(static_cast<size_t>(count_ * length_), 0.0) {}
  double* operator[](int64_t i) { return values.data() + i * length; }
  const double* operator[](int64_t i) const { return values.data() + i * length; }
};

double dot(const double* x, const double* y, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i] * y[i];
  return s;
}

// Orthonormalizes the columns in place (modified Gram-Schmidt, run twice so that the result
// stays orthogonal to rounding precision). A column that lies in the span of the ones before
// it becomes zero.
void orthonormalize(Columns& q) {
  for (int64_t i = 0; i < q.count; ++i) {
    const double norm_before = std::sqrt(dot(q[i], q[i], q.length));
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t j = 0; j < i; ++j) {
        const double r = dot(q[j], q[i], q.length);
        for (int64_t t = 0; t < q.length; ++t) q[i][t] -= r * q[j][t];
      }
    const double norm = std::sqrt(dot(q[i], q[i], q.length));
    const double keep = norm > 1e-12 * norm_before && norm > 0 ? 1.0 / norm : 0.0;
    for (int64_t t = 0; t < q.length; ++t) q[i][t] *= keep;
  }
}

// M as an operator (rows x cols): products with blocks of columns, never M itself, so that
// a weighted error E U^-1 of an 8B-shaped matrix is never formed.
struct Operator {
  int64_t rows = 0, cols = 0;
  std::function<Columns(const Columns&)> times;            // M X, X cols-long columns
  std::function<Columns(const Columns&)> transpose_times;  // M^T Y, Y rows-long columns
};

TruncatedSvd randomized_svd(const Operator& m, int64_t rank, uint64_t seed) {
  constexpr int64_t kOversampling = 10;
  // Quantization errors have a flat spectrum: each power iteration sharpens the subspace.
  constexpr int kPowerIterations = 4;
  const int64_t limit = std::min(m.rows, m.cols);
  rank = std::clamp<int64_t>(rank, 0, limit);
  const int64_t k = std::min(rank + kOversampling, limit);
  TruncatedSvd out;
  out.rows = m.rows;
  out.cols = m.cols;
  if (rank == 0) return out;
  // Halko, Martinsson and Tropp, "Finding structure with randomness", algorithm 4.4.
  Columns omega(k, m.cols);
  std::mt19937_64 random(seed);
  std::normal_distribution<double> normal;
  for (double& v : omega.values) v = normal(random);
  Columns q = m.times(omega);
  orthonormalize(q);
  for (int i = 0; i < kPowerIterations; ++i) {
    Columns z = m.transpose_times(q);
    orthonormalize(z);
    q = m.times(z);
    orthonormalize(q);
  }
  // M ~ Q Q^T M; the columns of Bt = M^T Q are rotated (one-sided Jacobi) until orthogonal:
  // Bt V = W, so Q^T M = V W^T and M ~ (Q V) diag(|w|) (W / |w|)^T.
  Columns w = m.transpose_times(q);
  std::vector<double> v(static_cast<size_t>(k * k), 0.0);  // [k][k], column j contiguous
  for (int64_t i = 0; i < k; ++i) v[static_cast<size_t>(i * k + i)] = 1;
  for (int sweep = 0; sweep < 60; ++sweep) {
    bool rotated = false;
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = i + 1; j < k; ++j) {
        const double a = dot(w[i], w[i], w.length), b = dot(w[j], w[j], w.length);
        const double c = dot(w[i], w[j], w.length);
        if (std::abs(c) <= 1e-15 * std::sqrt(a * b) || c == 0) continue;
        rotated = true;
        const double zeta = (b - a) / (2 * c);
        const double t = std::copysign(1.0, zeta) / (std::abs(zeta) + std::hypot(1.0, zeta));
        const double cs = 1 / std::hypot(1.0, t), sn = cs * t;
        auto rotate = [&](double* x, double* y, int64_t n) {
          for (int64_t r = 0; r < n; ++r) {
            const double xr = x[r], yr = y[r];
            x[r] = cs * xr - sn * yr;
            y[r] = sn * xr + cs * yr;
          }
        };
        rotate(w[i], w[j], w.length);
        rotate(v.data() + i * k, v.data() + j * k, k);
      }
    if (!rotated) break;
  }
  std::vector<double> norms(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i)
    norms[static_cast<size_t>(i)] = std::sqrt(dot(w[i], w[i], w.length));
  std::vector<int64_t> order(static_cast<size_t>(k));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
    return norms[static_cast<size_t>(x)] > norms[static_cast<size_t>(y)];
  });
  out.rank = rank;
  out.u.assign(static_cast<size_t>(rank * m.rows), 0.0);
  out.v.assign(static_cast<size_t>(rank * m.cols), 0.0);
  for (int64_t s = 0; s < rank; ++s) {
    const int64_t i = order[static_cast<size_t>(s)];
    const double sigma = norms[static_cast<size_t>(i)];
    out.singular.push_back(sigma);
    double* u = out.u.data() + s * m.rows;
    for (int64_t j = 0; j < k; ++j) {
      const double vj = v[static_cast<size_t>(i * k + j)];
      for (int64_t r = 0; r < m.rows; ++r) u[r] += q[j][r] * vj;
    }
    if (sigma > 0)
      for (int64_t c = 0; c < m.cols; ++c)
        out.v[static_cast<size_t>(s * m.cols + c)] = w[i][c] / sigma;
  }
  return out;
}

// E X for E rows x cols (row-major) and X cols-long columns.
Columns multiply(std::span<const double> e, int64_t rows, int64_t cols, const Columns& x) {
  Columns y(x.count, rows);
  for (int64_t r = 0; r < rows; ++r) {
    const double* er = e.data() + r * cols;
    for (int64_t i = 0; i < x.count; ++i) y[i][r] = dot(er, x[i], cols);
  }
  return y;
}

// E^T Y for E rows x cols and Y rows-long columns.
Columns multiply_transposed(std::span<const double> e, int64_t rows, int64_t cols,
                            const Columns& y) {
  Columns x(y.count, cols);
  for (int64_t i = 0; i < y.count; ++i)
    for (int64_t r = 0; r < rows; ++r) {
      const double yr = y[i][r];
      const double* er = e.data() + r * cols;
      for (int64_t c = 0; c < cols; ++c) x[i][c] += yr * er[c];
    }
  return x;
}

}  // namespace

TruncatedSvd truncated_svd(std::span<const double> m, int64_t rows, int64_t cols, int64_t rank,
                           uint64_t seed) {
  Operator op;
  op.rows = rows;
  op.cols = cols;
  op.times = [&](const Columns& x) { return multiply(m, rows, cols, x); };
  op.transpose_times = [&](const Columns& y) { return multiply_transposed(m, rows, cols, y); };
  return randomized_svd(op, rank, seed);
}

import::AdapterMatrix quantization_correction(std::span<const float> weights,
                                              const MatrixView& quantized,
                                              const InputStatistics* statistics, int64_t rank){
    const int64_t rows = quantized.rows, cols = quantized.cols;
std::vector<double> error(static_cast<size_t>(rows* cols));
std::vector<int8_t> ints(static_cast<size_t>(cols));
for (int64_t r = 0; r < rows; ++r) {
  quantized.decode_row(r, ints.data());
  for (int64_t j = 0; j < cols; ++j)
    error[static_cast<size_t>(r * cols + j)] =
        static_cast<double>(weights[static_cast<size_t>(r * cols + j)]) -
        static_cast<double>(quantized.scales[static_cast<size_t>(r)]) *
            quantized.multiplier(r, j / quantized.group) * ints[static_cast<size_t>(j)];
}
// QERA: minimise sum over tokens |(E - B A) x|^2 = tr((E - B A) H (E - B A)^T). With
// H + dI = F F^T (F = U^-1, U GPTQ's factor: U^T U = (H + dI)^-1) that is |(E - B A) F|^2,
// whose minimiser is the truncated SVD P S V^T of E F: B A = P S V^T F^-1 = P (S V^T U).
const bool weighted = statistics && statistics->dim == cols && statistics->tokens > 0;
// GPTQ's factor, shared with the quantization pass (read in place, not copied).
const double* u = weighted ? statistics->gptq_factor().data() : nullptr;
Operator op;
op.rows = rows;
op.cols = cols;
op.times = [&](const Columns& x) {
  if (!weighted) return multiply(error, rows, cols, x);
  // U^-1 X: U is upper triangular, solved from the last row up.
  Columns z = x;
  for (int64_t i = 0; i < z.count; ++i)
    for (int64_t r = cols - 1; r >= 0; --r) {
      const double* ur = u + r * cols;
      double s = z[i][r];
      for (int64_t c = r + 1; c < cols; ++c) s -= ur[c] * z[i][c];
      z[i][r] = s / ur[r];
    }
  return multiply(error, rows, cols, z);
};
op.transpose_times = [&](const Columns& y) {
  Columns z = multiply_transposed(error, rows, cols, y);
  if (!weighted) return z;
  // U^-T Z: U^T is lower triangular, solved from the first row down, row r of U at a time.
  for (int64_t i = 0; i < z.count; ++i)
    for (int64_t r = 0; r < cols; ++r) {
      const double* ur = u + r * cols;
      z[i][r] /= ur[r];
      for (int64_t c = r + 1; c < cols; ++c) z[i][c] -= ur[c] * z[i][r];
    }
  return z;
};
const TruncatedSvd svd = randomized_svd(op, rank, 0x5eed);
// B = P (orthonormal columns, so B's int8 rows lose little) and A = S V^T U.
import::AdapterMatrix out;
out.rows = rows;
out.cols = cols;
out.rank = svd.rank;
out.scale = 1;
out.a.assign(static_cast<size_t>(svd.rank* cols), 0.0f);
out.b.assign(static_cast<size_t>(rows* svd.rank), 0.0f);
std::vector<double> a_row(static_cast<size_t>(cols));
for (int64_t s = 0; s < svd.rank; ++s) {
  const double sigma = svd.singular[static_cast<size_t>(s)];
  const double* v = svd.v.data() + s * cols;
  if (weighted) {
    std::fill(a_row.begin(), a_row.end(), 0.0);
    for (int64_t r = 0; r < cols; ++r) {
      const double* ur = u + r * cols;
      for (int64_t c = r; c < cols; ++c) a_row[static_cast<size_t>(c)] += v[r] * ur[c];
    }
  } else {
    std::copy(v, v + cols, a_row.begin());
  }
  for (int64_t c = 0; c < cols; ++c)
    out.a[static_cast<size_t>(s * cols + c)] =
        static_cast<float>(sigma * a_row[static_cast<size_t>(c)]);
  for (int64_t r = 0; r < rows; ++r)
    out.b[static_cast<size_t>(r * svd.rank + s)] =
        static_cast<float>(svd.u[static_cast<size_t>(s * rows + r)]);
}
return out;
}  // namespace etch::compile

}  // namespace etch::compile
