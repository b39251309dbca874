// GPTQ and calibration on small matrices, fast enough for every stage (sanitizers included):
// each property is checked against a direct computation, not against the code under test.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "activations.hpp"
#include "compile/compile.hpp"
#include "core/error.hpp"
#include "test_support.hpp"

namespace etch {
namespace {

constexpr int64_t kRows = 64, kCols = 128, kTokens = 512;

std::vector<float> correlated_inputs(std::mt19937& rng) {
  return testing::correlated_inputs(
      rng, {.tokens = kTokens, .cols = kCols, .directions = 6, .noise = 0.1f});
}

std::vector<float> random_weights(std::mt19937& rng) {
  std::normal_distribution<float> n(0, 0.1f);
  std::vector<float> w(kRows * kCols);
  for (float& v : w) v = n(rng);
  return w;
}

// sum_t x_t x_t^T, full and symmetric, summed directly.
std::vector<double> gram(const std::vector<float>& x) {
  std::vector<double> h(kCols * kCols, 0.0);
  for (int64_t t = 0; t < kTokens; ++t)
    for (int64_t i = 0; i < kCols; ++i)
      for (int64_t j = 0; j < kCols; ++j)
        h[static_cast<size_t>(i * kCols + j)] +=
            static_cast<double>(x[t * kCols + i]) * static_cast<double>(x[t * kCols + j]);
  return h;
}

// The float weights a quantized matrix stands for: scale * multiplier * level.
std::vector<double> dequantized(const compile::Matrix& m) {
  const compile::MatrixView v = m.view();
  std::vector<double> out(static_cast<size_t>(v.rows * v.cols));
  std::vector<int8_t> row(static_cast<size_t>(v.cols));
  for (int64_t r = 0; r < v.rows; ++r) {
    v.decode_row(r, row.data());
    for (int64_t j = 0; j < v.cols; ++j)
      out[static_cast<size_t>(r * v.cols + j)] = static_cast<double>(v.scales[r]) *
                                                 v.multiplier(r, j / v.group) *
                                                 row[static_cast<size_t>(j)];
  }
  return out;
}

// || X (W - Q)^T ||^2 over the calibration tokens, computed from the activations themselves.
double output_error(const std::vector<float>& x, const std::vector<float>& w,
                    const std::vector<double>& q) {
  double total = 0;
  for (int64_t t = 0; t < kTokens; ++t)
    for (int64_t r = 0; r < kRows; ++r) {
      double e = 0;
      for (int64_t j = 0; j < kCols; ++j)
        e += (w[static_cast<size_t>(r * kCols + j)] - q[static_cast<size_t>(r * kCols + j)]) *
             x[static_cast<size_t>(t * kCols + j)];
      total += e * e;
    }
  return total;
}

compile::InputStatistics statistics_of(const std::vector<float>& x) {
  compile::Calibration calibration;
  calibration.observe("blk.0.attn_in", x.data(), kTokens, kCols);
  return *calibration.find(import::Role::kAttnQ, 0);
}

// Formats whose levels and scales do not depend on the statistics (fixed level tables), so
// the two quantizations differ only in how each weight is rounded.
const char* const kFixedLevelRecipes[] = {"fp4", "hc8", "int8"};

TEST(Gptq, OutputErrorIsBelowRoundToNearestOnTheCalibrationActivations) {
  std::mt19937 rng(11);
  const std::vector<float> x = correlated_inputs(rng), w = random_weights(rng);
  const compile::InputStatistics stats = statistics_of(x);
  for (const char* recipe : kFixedLevelRecipes) {
    SCOPED_TRACE(recipe);
    const contract::Format format = contract::find_recipe(recipe).base;
    const double nearest =
        output_error(x, w, dequantized(compile::quantize("w", w, kRows, kCols, format, nullptr)));
    const double gptq =
        output_error(x, w, dequantized(compile::quantize("w", w, kRows, kCols, format, &stats)));
    // On strongly correlated inputs GPTQ removes most of the error; a GPTQ that spread the
    // error the wrong way, or not at all, would not come near half.
    EXPECT_LT(gptq, 0.5 * nearest) << "gptq " << gptq << " nearest " << nearest;
  }
}

TEST(Gptq, UncorrelatedInputsGiveExactlyRoundToNearest) {
  // Inputs that each excite one column: H is diagonal, so no error has anywhere to go and
  // every code must be the nearest level's.
  std::mt19937 rng(12);
  const std::vector<float> w = random_weights(rng);
  std::vector<float> x(kCols * kCols, 0.0f);
  for (int64_t j = 0; j < kCols; ++j) x[static_cast<size_t>(j * kCols + j)] = 1.0f + 0.01f * j;
  compile::Calibration calibration;
  calibration.observe("blk.0.ffn_in", x.data(), kCols, kCols);
  const compile::InputStatistics* stats = calibration.find(import::Role::kFfnUp, 0);
  ASSERT_NE(stats, nullptr);
  for (const char* recipe : kFixedLevelRecipes) {
    SCOPED_TRACE(recipe);
    const contract::Format format = contract::find_recipe(recipe).base;
    EXPECT_EQ(compile::quantize("w", w, kRows, kCols, format, stats).codes,
              compile::quantize("w", w, kRows, kCols, format, nullptr).codes);
  }
}

// (A)^-1 by Gauss-Jordan elimination with partial pivoting: the direct reference.
std::vector<double> inverse(std::vector<double> a, int64_t n) {
  std::vector<double> inv(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) inv[static_cast<size_t>(i * n + i)] = 1;
  for (int64_t c = 0; c < n; ++c) {
    int64_t pivot = c;
    for (int64_t r = c + 1; r < n; ++r)
      if (std::abs(a[r * n + c]) > std::abs(a[pivot * n + c])) pivot = r;
    for (int64_t k = 0; k < n; ++k) {
      std::swap(a[c * n + k], a[pivot * n + k]);
      std::swap(inv[c * n + k], inv[pivot * n + k]);
    }
    const double d = a[c * n + c];
    for (int64_t k = 0; k < n; ++k) {
      a[c * n + k] /= d;
      inv[c * n + k] /= d;
    }
    for (int64_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r * n + c];
      for (int64_t k = 0; k < n; ++k) {
        a[r * n + k] -= f * a[c * n + k];
        inv[r * n + k] -= f * inv[c * n + k];
      }
    }
  }
  return inv;
}

void expect_factor_of_damped_inverse(const std::vector<double>& h, int64_t n) {
  const std::vector<double> u = compile::inverse_cholesky_upper(h, n);
  double mean_diagonal = 0;
  for (int64_t i = 0; i < n; ++i) mean_diagonal += h[i * n + i];
  mean_diagonal /= static_cast<double>(n);
  std::vector<double> damped = h;
  for (int64_t i = 0; i < n; ++i) damped[i * n + i] += 0.01 * mean_diagonal;
  const std::vector<double> reference = inverse(damped, n);
  double largest = 0;
  for (double v : reference) largest = std::max(largest, std::abs(v));
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_GT(u[i * n + i], 0) << i;
    for (int64_t j = 0; j < i; ++j) EXPECT_EQ(u[i * n + j], 0.0) << i << "," << j;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double utu = 0;
      for (int64_t k = 0; k < n; ++k) utu += u[k * n + i] * u[k * n + j];
      EXPECT_NEAR(utu, reference[i * n + j], 1e-9 * largest) << i << "," << j;
    }
}

TEST(Gptq, TheFactorIsTheUpperCholeskyFactorOfTheDampedInverse) {
  std::mt19937 rng(13);
  const std::vector<float> x = correlated_inputs(rng);
  expect_factor_of_damped_inverse(gram(x), kCols);
}

TEST(Gptq, ColumnsNoTokenExcitedAreHandledByTheDamping) {
  // Half the inputs are always zero: H is singular, H + d I is not.
  std::mt19937 rng(14);
  std::vector<float> x = correlated_inputs(rng);
  for (int64_t t = 0; t < kTokens; ++t)
    for (int64_t j = kCols / 2; j < kCols; ++j) x[static_cast<size_t>(t * kCols + j)] = 0;
  expect_factor_of_damped_inverse(gram(x), kCols);
}

TEST(Gptq, AnIndefiniteMatrixIsRefused) {
  std::vector<double> h(4, 0.0);
  h[0] = 1;
  h[3] = -5;  // the mean diagonal's damping cannot make this positive
  EXPECT_NE(testing::error_of([&] {
              compile::inverse_cholesky_upper(h, 2);
            }).find("not positive definite"),
            std::string::npos);
}

TEST(Calibration, StatisticsAreTheSumOfOuterProductsOverEveryObservedToken) {
  // Small integers: every product and sum is exact in double, whatever the order.
  constexpr int64_t dim = 5;
  std::mt19937 rng(15);
  std::uniform_int_distribution<int> pick(-9, 9);
  std::vector<float> first(3 * dim), second(4 * dim);
  for (float& v : first) v = static_cast<float>(pick(rng));
  for (float& v : second) v = static_cast<float>(pick(rng));
  compile::Calibration calibration;
  calibration.observe("blk.1.attn_in", first.data(), 3, dim);
  calibration.observe("blk.1.ffn_mid", second.data(), 4, dim);
  calibration.observe("blk.1.attn_in", second.data(), 4, dim);

  const compile::InputStatistics* attn_in = calibration.find(import::Role::kAttnK, 1);
  ASSERT_NE(attn_in, nullptr);
  EXPECT_EQ(attn_in->tokens, 7);
  EXPECT_EQ(attn_in->dim, dim);
  for (int64_t i = 0; i < dim; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double expected = 0;
      for (int64_t t = 0; t < 3; ++t) expected += first[t * dim + i] * first[t * dim + j];
      for (int64_t t = 0; t < 4; ++t) expected += second[t * dim + i] * second[t * dim + j];
      EXPECT_EQ(attn_in->h[static_cast<size_t>(i * dim + j)], expected) << i << "," << j;
    }

  // q, k and v read the same vector; the down projection reads ffn_mid; layers are apart.
  EXPECT_EQ(calibration.find(import::Role::kAttnQ, 1), attn_in);
  EXPECT_EQ(calibration.find(import::Role::kAttnV, 1), attn_in);
  const compile::InputStatistics* ffn_mid = calibration.find(import::Role::kFfnDown, 1);
  ASSERT_NE(ffn_mid, nullptr);
  EXPECT_EQ(ffn_mid->tokens, 4);
  EXPECT_EQ(calibration.find(import::Role::kAttnQ, 0), nullptr);
  EXPECT_EQ(calibration.find(import::Role::kFfnGate, 1), nullptr);
  EXPECT_EQ(calibration.find(import::Role::kTokenEmbedding, -1), nullptr);
}

}  // namespace
}  // namespace etch
