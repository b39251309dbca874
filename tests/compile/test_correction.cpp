// The randomized truncated SVD and the calibration-weighted correction of a quantization error
// (compile::truncated_svd, compile::quantization_correction) on small matrices, against
// references built here: a matrix whose spectrum is known by construction, and the optimum of
// the weighted problem from the eigenvalues of E H E^T (Jacobi's method, written here).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "activations.hpp"
#include "compile/compile.hpp"
#include "test_support.hpp"

namespace etch {
namespace {

using Dense = std::vector<double>;  // row-major

// `count` orthonormal vectors of length n (Gram-Schmidt on Gaussian draws), as rows.
Dense orthonormal_rows(int64_t count, int64_t n, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  Dense q(static_cast<size_t>(count * n));
  for (double& v : q) v = normal(rng);
  for (int64_t i = 0; i < count; ++i) {
    double* qi = q.data() + i * n;
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t j = 0; j < i; ++j) {
        const double* qj = q.data() + j * n;
        const double r = std::inner_product(qi, qi + n, qj, 0.0);
        for (int64_t t = 0; t < n; ++t) qi[t] -= r * qj[t];
      }
    const double norm = std::sqrt(std::inner_product(qi, qi + n, qi, 0.0));
    for (int64_t t = 0; t < n; ++t) qi[t] /= norm;
  }
  return q;
}

// U diag(s) V^T with random orthonormal U and V: its singular values are s.
Dense with_spectrum(const std::vector<double>& s, int64_t rows, int64_t cols, std::mt19937& rng) {
  const auto k = static_cast<int64_t>(s.size());
  const Dense u = orthonormal_rows(k, rows, rng), v = orthonormal_rows(k, cols, rng);
  Dense m(static_cast<size_t>(rows * cols), 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        m[static_cast<size_t>(r * cols + c)] +=
            s[static_cast<size_t>(i)] * u[i * rows + r] * v[static_cast<size_t>(i * cols + c)];
  return m;
}

// |M - U S V^T|_F^2 for the SVD's factors.
double residual(const Dense& m, const compile::TruncatedSvd& svd) {
  double total = 0;
  for (int64_t r = 0; r < svd.rows; ++r)
    for (int64_t c = 0; c < svd.cols; ++c) {
      double approx = 0;
      for (int64_t s = 0; s < svd.rank; ++s)
        approx += svd.singular[static_cast<size_t>(s)] *
                  svd.u[static_cast<size_t>(s * svd.rows + r)] *
                  svd.v[static_cast<size_t>(s * svd.cols + c)];
      const double d = m[static_cast<size_t>(r * svd.cols + c)] - approx;
      total += d * d;
    }
  return total;
}

TEST(TruncatedSvd, FindsTheTopOfAKnownSpectrumAndTheOptimalResidual) {
  constexpr int64_t kRows = 80, kCols = 120, kRank = 8;
  // Eight strong directions over a flat tail, as a quantization error's low-rank part over
  // its rounding noise.
  std::vector<double> s;
  for (int i = 0; i < kRank; ++i) s.push_back(10.0 - i);
  for (int i = kRank; i < kRows; ++i) s.push_back(0.3 - 0.002 * i);
  std::mt19937 rng(5);
  const Dense m = with_spectrum(s, kRows, kCols, rng);
  const compile::TruncatedSvd svd = compile::truncated_svd(m, kRows, kCols, kRank, 1);
  ASSERT_EQ(svd.rank, kRank);
  // Subspace iteration converges as (s[k] / s[i])^(2q+1) with k = rank + oversampling: here
  // below 1e-9 of each value.
  for (int64_t i = 0; i < kRank; ++i)
    EXPECT_NEAR(svd.singular[static_cast<size_t>(i)], s[static_cast<size_t>(i)], 1e-9 * s[i]);
  double optimal = 0;
  for (size_t i = kRank; i < s.size(); ++i) optimal += s[i] * s[i];
  EXPECT_NEAR(residual(m, svd), optimal, 1e-6 * optimal);
  // The factors are orthonormal.
  for (int64_t i = 0; i < kRank; ++i)
    for (int64_t j = 0; j < kRank; ++j) {
      const double* ui = svd.u.data() + i * kRows;
      const double* uj = svd.u.data() + j * kRows;
      const double* vi = svd.v.data() + i * kCols;
      const double* vj = svd.v.data() + j * kCols;
      EXPECT_NEAR(std::inner_product(ui, ui + kRows, uj, 0.0), i == j, 1e-9);
      EXPECT_NEAR(std::inner_product(vi, vi + kCols, vj, 0.0), i == j, 1e-9);
    }
}

TEST(TruncatedSvd, ARankAboveTheShapeIsClampedAndExact) {
  constexpr int64_t kRows = 12, kCols = 7;
  std::mt19937 rng(9);
  const Dense m = with_spectrum({4, 3, 2.5, 1, 0.5, 0.25, 0.125}, kRows, kCols, rng);
  const compile::TruncatedSvd svd = compile::truncated_svd(m, kRows, kCols, 50, 1);
  EXPECT_EQ(svd.rank, kCols);
  double energy = 0;
  for (double v : m) energy += v * v;
  EXPECT_LT(residual(m, svd), 1e-20 * energy);
}

// Eigenvalues of a symmetric n x n matrix by cyclic Jacobi rotations, ascending.
std::vector<double> eigenvalues(Dense a, int64_t n) {
  auto at = [&](int64_t i, int64_t j) -> double& { return a[static_cast<size_t>(i * n + j)]; };
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) off += at(p, q) * at(p, q);
    if (off < 1e-30) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        if (at(p, q) == 0) continue;
        const double theta = (at(q, q) - at(p, p)) / (2 * at(p, q));
        const double t = std::copysign(1.0, theta) / (std::abs(theta) + std::hypot(1.0, theta));
        const double c = 1 / std::hypot(1.0, t), s = t * c;
        for (int64_t k = 0; k < n; ++k) {  // A <- A J (columns p, q)
          const double akp = at(k, p), akq = at(k, q);
          at(k, p) = c * akp - s * akq;
          at(k, q) = s * akp + c * akq;
        }
        for (int64_t k = 0; k < n; ++k) {  // A <- J^T A (rows p, q)
          const double apk = at(p, k), aqk = at(q, k);
          at(p, k) = c * apk - s * aqk;
          at(q, k) = s * apk + c * aqk;
        }
      }
  }
  std::vector<double> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(at(i, i));
  std::sort(out.begin(), out.end());
  return out;
}

constexpr int64_t kRows = 48, kCols = 96, kTokens = 400;

// Activations with a few strong shared directions and uneven channel scales, as a layer's
// inputs are: weighting by them is what separates the correction from a plain SVD.
std::vector<float> calibration_inputs(std::mt19937& rng) {
  return testing::correlated_inputs(
      rng,
      {.tokens = kTokens, .cols = kCols, .directions = 5, .noise = 0.2f, .channel_scales = true});
}

struct Problem {
  std::vector<float> x, w;
  compile::InputStatistics stats;
  compile::Matrix q;
  Dense error;  // W - dequant(Q)
};

Problem make_problem(const char* recipe) {
  Problem p;
  std::mt19937 rng(17);
  p.x = calibration_inputs(rng);
  std::normal_distribution<float> n(0, 0.1f);
  p.w.resize(kRows * kCols);
  for (float& v : p.w) v = n(rng);
  compile::Calibration calibration;
  calibration.observe("blk.0.attn_in", p.x.data(), kTokens, kCols);
  p.stats = *calibration.find(import::Role::kAttnQ, 0);
  p.q = compile::quantize("w", p.w, kRows, kCols, contract::find_recipe(recipe).base, &p.stats);
  const compile::MatrixView v = p.q.view();
  std::vector<int8_t> ints(kCols);
  for (int64_t r = 0; r < kRows; ++r) {
    v.decode_row(r, ints.data());
    for (int64_t j = 0; j < kCols; ++j)
      p.error.push_back(p.w[static_cast<size_t>(r * kCols + j)] -
                        static_cast<double>(v.scales[static_cast<size_t>(r)]) *
                            v.multiplier(r, j / v.group) * ints[static_cast<size_t>(j)]);
  }
  return p;
}

// E - B A for a correction (scale 1).
Dense corrected(const Dense& error, const import::AdapterMatrix& m) {
  Dense out = error;
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t c = 0; c < kCols; ++c)
      for (int64_t s = 0; s < m.rank; ++s)
        out[static_cast<size_t>(r * kCols + c)] -=
            static_cast<double>(m.b[static_cast<size_t>(r * m.rank + s)]) *
            m.a[static_cast<size_t>(s * kCols + c)];
  return out;
}

// sum over the calibration tokens of |D x|^2, from the activations themselves.
double output_error(const Dense& d, const std::vector<float>& x) {
  double total = 0;
  for (int64_t t = 0; t < kTokens; ++t)
    for (int64_t r = 0; r < kRows; ++r) {
      double e = 0;
      for (int64_t j = 0; j < kCols; ++j)
        e += d[static_cast<size_t>(r * kCols + j)] * x[static_cast<size_t>(t * kCols + j)];
      total += e * e;
    }
  return total;
}

// The damped second moment the correction weighs by: H + 1% of its mean diagonal (GPTQ's
// damping, compile::inverse_cholesky_upper), from the activations.
Dense damped_gram(const std::vector<float>& x) {
  Dense h(kCols * kCols, 0.0);
  for (int64_t t = 0; t < kTokens; ++t)
    for (int64_t i = 0; i < kCols; ++i)
      for (int64_t j = 0; j < kCols; ++j)
        h[static_cast<size_t>(i * kCols + j)] +=
            static_cast<double>(x[t * kCols + i]) * x[t * kCols + j];
  double mean = 0;
  for (int64_t i = 0; i < kCols; ++i) mean += h[static_cast<size_t>(i * kCols + i)] / kCols;
  for (int64_t i = 0; i < kCols; ++i) h[static_cast<size_t>(i * kCols + i)] += 0.01 * mean;
  return h;
}

// tr(D H D^T).
double weighted_error(const Dense& d, const Dense& h) {
  double total = 0;
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t i = 0; i < kCols; ++i)
      for (int64_t j = 0; j < kCols; ++j)
        total += d[static_cast<size_t>(r * kCols + i)] * h[static_cast<size_t>(i * kCols + j)] *
                 d[static_cast<size_t>(r * kCols + j)];
  return total;
}

TEST(QuantizationCorrection, IsTheOptimumOfTheCalibrationWeightedError) {
  constexpr int64_t kRank = 6;
  const Problem p = make_problem("hc3");
  const Dense h = damped_gram(p.x);
  const import::AdapterMatrix weighted =
      compile::quantization_correction(p.w, p.q.view(), &p.stats, kRank);
  ASSERT_EQ(weighted.rank, kRank);
  ASSERT_EQ(weighted.a.size(), static_cast<size_t>(kRank * kCols));
  ASSERT_EQ(weighted.b.size(), static_cast<size_t>(kRows * kRank));
  EXPECT_EQ(weighted.scale, 1.0f);
  // min over rank-R B A of tr((E - B A) H (E - B A)^T) is the sum of all but the R largest
  // eigenvalues of E H E^T.
  Dense ehe(kRows * kRows, 0.0);
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t s = 0; s < kRows; ++s)
      for (int64_t i = 0; i < kCols; ++i)
        for (int64_t j = 0; j < kCols; ++j)
          ehe[static_cast<size_t>(r * kRows + s)] += p.error[static_cast<size_t>(r * kCols + i)] *
                                                     h[static_cast<size_t>(i * kCols + j)] *
                                                     p.error[static_cast<size_t>(s * kCols + j)];
  const std::vector<double> lambda = eigenvalues(ehe, kRows);
  const double optimum = std::accumulate(lambda.begin(), lambda.end() - kRank, 0.0);
  const double achieved = weighted_error(corrected(p.error, weighted), h);
  // A and B are held in float: the optimum up to their rounding.
  EXPECT_NEAR(achieved, optimum, 1e-5 * weighted_error(p.error, h));
}

TEST(QuantizationCorrection, ReducesTheOutputErrorMoreThanAPlainSvd) {
  constexpr int64_t kRank = 6;
  const Problem p = make_problem("hc3");
  const double before = output_error(p.error, p.x);
  const double weighted = output_error(
      corrected(p.error, compile::quantization_correction(p.w, p.q.view(), &p.stats, kRank)), p.x);
  const double plain = output_error(
      corrected(p.error, compile::quantization_correction(p.w, p.q.view(), nullptr, kRank)), p.x);
  RecordProperty("weighted_over_before", std::to_string(weighted / before));
  RecordProperty("plain_over_before", std::to_string(plain / before));
  // Five strong input directions: rank 6 removes most of the error they carry, which the plain
  // SVD, blind to them, does not.
  EXPECT_LT(weighted, 0.5 * before);
  EXPECT_LT(weighted, 0.8 * plain);
  EXPECT_LT(plain, before);
}

}  // namespace
}  // namespace etch
