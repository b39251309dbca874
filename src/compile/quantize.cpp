// The weight quantizers of the numeric contract (docs/chip-spec.md, "Weight formats").
#include <algorithm>
#include <cmath>

#include "compile/compile.hpp"
#include "core/error.hpp"
#include "core/half.hpp"

namespace etch::compile {

namespace {

// Row scales are held in ROM as fp16: round to a representable value.
float fp16_round(float x) {
  return fp16_to_f32(f32_to_fp16(x));
}

// Sets code (r, j) of a matrix of shape `shape` in codes, zero there before.
void put_code(std::vector<uint8_t>& codes, const MatrixView& shape, int64_t r, int64_t j,
              uint32_t code) {
  for (int i = 0; i < shape.bits; ++i)
    if (code >> i & 1u) {
      const uint64_t bit = shape.code_bit(r, j, i);
      codes[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
    }
}

// Nearest entry of a level table given as (value, code) pairs sorted by value.
struct SortedLevels {
  std::vector<std::pair<int, uint32_t>> entries;
  explicit SortedLevels(std::span<const int8_t> levels) {
    for (size_t c = 0; c < levels.size(); ++c)
      entries.emplace_back(levels[c], static_cast<uint32_t>(c));
    std::sort(entries.begin(), entries.end());
  }
  // The code whose level is closest to t (ties to the lower level).
  std::pair<int, uint32_t> nearest(double t) const {
    auto it =
        std::lower_bound(entries.begin(), entries.end(), t,
                         [](const std::pair<int, uint32_t>& e, double v) { return e.first < v; });
    if (it == entries.end()) return entries.back();
    if (it == entries.begin()) return *it;
    const auto below = *(it - 1);
    return (t - below.first <= it->first - t) ? below : *it;
  }
};

// Lloyd's algorithm in one dimension: `count` levels in [-127, 127] minimising the weighted
// squared error of `values`, started from quantiles, rounded to integers at the end.
std::vector<int8_t> fit_levels(std::vector<std::pair<double, double>> values, int count) {
  std::sort(values.begin(), values.end());
  std::vector<double> levels(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const size_t at =
        std::min(values.size() - 1, (values.size() * (2 * static_cast<size_t>(i) + 1)) /
                                        (2 * static_cast<size_t>(count)));
    levels[static_cast<size_t>(i)] = values[at].first;
  }
  for (int iteration = 0; iteration < 12; ++iteration) {
    std::vector<double> sum(levels.size(), 0.0), weight(levels.size(), 0.0);
    size_t l = 0;
    for (const auto& [v, w] : values) {
      while (l + 1 < levels.size() && std::abs(levels[l + 1] - v) <= std::abs(levels[l] - v)) ++l;
      sum[l] += v * w;
      weight[l] += w;
    }
    for (size_t i = 0; i < levels.size(); ++i)
      if (weight[i] > 0) levels[i] = sum[i] / weight[i];
    std::sort(levels.begin(), levels.end());
  }
  std::vector<int8_t> out(levels.size());
  for (size_t i = 0; i < levels.size(); ++i)
    out[i] = static_cast<int8_t>(std::clamp(std::lround(levels[i]), -127L, 127L));
  return out;
}

}  // namespace

// Upper Cholesky factor U of H^-1 (H^-1 = U^T U), as GPTQ uses it: row j of U says how the
// rounding error of column j is spread over the columns after it. H is damped first so that
// columns no calibration token excited do not make it singular.
std::vector<double> inverse_cholesky_upper(std::vector<double> h, int64_t n) {
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) mean_diag += h[static_cast<size_t>(i * n + i)];
  mean_diag = std::max(mean_diag / static_cast<double>(n), 1e-12);
  for (int64_t i = 0; i < n; ++i) h[static_cast<size_t>(i * n + i)] += 0.01 * mean_diag;
  auto at = [n](std::vector<double>& m, int64_t i, int64_t j) -> double& {
    return m[static_cast<size_t>(i * n + j)];
  };
  // H = L L^T.
  std::vector<double> l(static_cast<size_t>(n * n), 0.0);
  for (int64_t j = 0; j < n; ++j) {
    double d = at(h, j, j);
    for (int64_t k = 0; k < j; ++k) d -= at(l, j, k) * at(l, j, k);
    if (d <= 0) fail("calibration statistics are not positive definite");
    at(l, j, j) = std::sqrt(d);
    for (int64_t i = j + 1; i < n; ++i) {
      double s = at(h, i, j);
      for (int64_t k = 0; k < j; ++k) s -= at(l, i, k) * at(l, j, k);
      at(l, i, j) = s / at(l, j, j);
    }
  }
  // L^-1 (lower), then H^-1 = L^-T L^-1.
  std::vector<double> li(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    at(li, i, i) = 1.0 / at(l, i, i);
    for (int64_t j = 0; j < i; ++j) {
      double s = 0;
      for (int64_t k = j; k < i; ++k) s += at(l, i, k) * at(li, k, j);
      at(li, i, j) = -s / at(l, i, i);
    }
  }
  std::vector<double> inv(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = 0;
      for (int64_t k = i; k < n; ++k) s += at(li, k, i) * at(li, k, j);
      at(inv, i, j) = s;
      at(inv, j, i) = s;
    }
  // Upper Cholesky factor of H^-1: H^-1 = L L^T (lower L), U = L^T.
  std::vector<double> c(static_cast<size_t>(n * n), 0.0);
  for (int64_t j = 0; j < n; ++j) {
    double d = at(inv, j, j);
    for (int64_t k = 0; k < j; ++k) d -= at(c, j, k) * at(c, j, k);
    at(c, j, j) = std::sqrt(std::max(d, 1e-30));
    for (int64_t i = j + 1; i < n; ++i) {
      double s = at(inv, i, j);
      for (int64_t k = 0; k < j; ++k) s -= at(c, i, k) * at(c, j, k);
      at(c, i, j) = s / at(c, j, j);
    }
  }
  std::vector<double> out(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) at(out, i, j) = at(c, j, i);
  return out;
}

namespace {

// The largest multiplier a format's codes give: every row's largest group is scaled to it.
int32_t max_multiplier(const contract::Format& format) {
  if (format.multiplier_bits == 0) return 1;
  return contract::multiplier_value(format.kind, (1u << format.multiplier_bits) - 1);
}

// The largest level a row scale maps its largest weight to: the largest fixed level, or the
// int8 range for fitted tables (symmetric, so -128 stays unused).
double max_level(const contract::Format& format) {
  if (format.fitted_levels) return 127;
  int level = 0;
  for (uint32_t code = 0; code < (1u << format.bits); ++code)
    level = std::max<int>(level, contract::fixed_level(format, code));
  return level;
}

}  // namespace

void InputStatistics::add(const float* x, int64_t count) {
  for (int64_t t = 0; t < count; ++t) {
    const float* v = x + t * dim;
    for (int64_t i = 0; i < dim; ++i) {
      const double vi = v[i];
      double* row = h.data() + i * dim;
      for (int64_t j = 0; j <= i; ++j) row[j] += vi * v[j];
    }
  }
  tokens += count;
  factor_ = std::make_shared<Factor>();
}

const std::vector<double>& InputStatistics::gptq_factor() const {
  std::call_once(factor_->once, [this] { factor_->u = inverse_cholesky_upper(h, dim); });
  return factor_->u;
}

void Calibration::observe(const std::string& input_name, const float* inputs, int64_t tokens,
                          int64_t dim) {
  for (auto& [name, stats] : inputs_)
    if (name == input_name) {
      stats.add(inputs, tokens);
      return;
    }
  InputStatistics stats;
  stats.dim = dim;
  stats.h.assign(static_cast<size_t>(dim * dim), 0.0);
  stats.add(inputs, tokens);
  inputs_.emplace_back(input_name, std::move(stats));
}

const InputStatistics* Calibration::find(import::Role role, int64_t layer) const {
  // Matrices that read the same vector share its statistics: q, k and v all read attn_in.
  std::string input;
  switch (role) {
    case import::Role::kAttnQ:
    case import::Role::kAttnK:
    case import::Role::kAttnV:
      input = fmt::format("blk.{}.attn_in", layer);
      break;
    case import::Role::kAttnOutput:
      input = fmt::format("blk.{}.attn_out", layer);
      break;
    case import::Role::kFfnGate:
    case import::Role::kFfnUp:
      input = fmt::format("blk.{}.ffn_in", layer);
      break;
    case import::Role::kFfnDown:
      input = fmt::format("blk.{}.ffn_mid", layer);
      break;
    case import::Role::kOutput:
      input = "output_in";
      break;
    default:
      return nullptr;  // the embedding reads token ids, not a vector
  }
  for (const auto& [name, stats] : inputs_)
    if (name == input) return &stats;
  return nullptr;
}

Matrix quantize(const std::string& name, std::span<const float> weights, int64_t rows, int64_t cols,
                const contract::Format& format, const InputStatistics* statistics) {
  Matrix m;
  m.name = name;
  m.format = format;
  m.rows = rows;
  m.cols = cols;
  const MatrixView shape = m.view();
  const int64_t groups = shape.groups(), tiles = shape.tiles(), group = format.group;
  const int64_t level_count = int64_t{1} << format.bits;
  m.codes.assign(static_cast<size_t>(shape.code_bytes()), 0);
  m.levels.assign(static_cast<size_t>(tiles * level_count), 0);
  m.multipliers.assign(static_cast<size_t>(shape.multiplier_bytes()), 0);
  m.scales.assign(static_cast<size_t>(rows), 0.0f);

  // Per-column importance: the diagonal of H (how much each input contributes to the output).
  std::vector<double> importance(static_cast<size_t>(cols), 1.0);
  if (statistics)
    for (int64_t j = 0; j < cols; ++j)
      importance[static_cast<size_t>(j)] = statistics->h[static_cast<size_t>(j * cols + j)] + 1e-12;

  // 1. The grid of every row: group multipliers and an fp16 row scale, so that the largest
  //    group of a row spans the full level range.
  const int32_t multiplier_max = max_multiplier(format);
  const double level_max = max_level(format);
  std::vector<int32_t> mult(static_cast<size_t>(rows * groups), 1);
  for (int64_t r = 0; r < rows; ++r) {
    const float* w = weights.data() + r * cols;
    std::vector<double> group_max(static_cast<size_t>(groups), 0.0);
    for (int64_t j = 0; j < cols; ++j)
      group_max[static_cast<size_t>(j / group)] =
          std::max(group_max[static_cast<size_t>(j / group)], std::abs(static_cast<double>(w[j])));
    const double row_max = *std::max_element(group_max.begin(), group_max.end());
    if (row_max == 0) continue;
    float scale = fp16_round(static_cast<float>(row_max / (multiplier_max * level_max)));
    if (scale == 0) scale = fp16_to_f32(1);  // smallest fp16 subnormal
    // fp16 rounding may have shrunk the scale: grow it until the largest group fits.
    while (row_max > multiplier_max * level_max * scale)
      scale = fp16_to_f32(static_cast<uint16_t>(f32_to_fp16(scale) + 1));
    m.scales[static_cast<size_t>(r)] = scale;
    if (format.multiplier_bits == 0) continue;
    for (int64_t g = 0; g < groups; ++g) {
      // The smallest multiplier code whose value lets the group's largest weight reach the
      // top level (hc: codes are the values 1..15; fp4: exponents of 2).
      const double need = group_max[static_cast<size_t>(g)] / (level_max * scale);
      uint32_t code = format.kind == contract::WeightFormat::kHc ? 1 : 0;
      while (code + 1 < (1u << format.multiplier_bits) &&
             contract::multiplier_value(format.kind, code) < need)
        ++code;
      m.multipliers[static_cast<size_t>(shape.multiplier_index(r, g))] = static_cast<uint8_t>(code);
      mult[static_cast<size_t>(r * groups + g)] = contract::multiplier_value(format.kind, code);
    }
  }

  // 2. The level table of every tile: the format's fixed levels, or fitted.
  for (int64_t tile = 0; tile < tiles; ++tile) {
    int8_t* levels = m.levels.data() + tile * level_count;
    if (!format.fitted_levels) {
      for (int64_t c = 0; c < level_count; ++c)
        levels[c] = contract::fixed_level(format, static_cast<uint32_t>(c));
    } else {
      std::vector<std::pair<double, double>> values;
      for (int64_t r = tile * contract::kTileRows;
           r < std::min(rows, (tile + 1) * contract::kTileRows); ++r) {
        const float scale = m.scales[static_cast<size_t>(r)];
        if (scale == 0) continue;
        for (int64_t j = 0; j < cols; ++j)
          values.emplace_back(weights[static_cast<size_t>(r * cols + j)] /
                                  (scale * mult[static_cast<size_t>(r * groups + j / group)]),
                              importance[static_cast<size_t>(j)]);
      }
      if (values.empty()) values.emplace_back(0.0, 1.0);
      const std::vector<int8_t> fitted =
          fit_levels(std::move(values), static_cast<int>(level_count));
      std::copy(fitted.begin(), fitted.end(), levels);
    }
  }

  // 3. Codes: round to the nearest level, column by column; with calibration statistics the
  //    rounding error of each column is pushed onto the later columns (GPTQ).
  const std::vector<double>* u =
      statistics && statistics->dim == cols ? &statistics->gptq_factor() : nullptr;
  std::vector<double> w(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const SortedLevels sorted(
        std::span<const int8_t>(m.levels.data() + (r / contract::kTileRows) * level_count,
                                static_cast<size_t>(level_count)));
    std::copy_n(weights.data() + r * cols, cols, w.begin());
    const double scale = m.scales[static_cast<size_t>(r)];
    for (int64_t j = 0; j < cols; ++j) {
      const double unit = scale * mult[static_cast<size_t>(r * groups + j / group)];
      const auto [level, code] =
          unit > 0 ? sorted.nearest(w[static_cast<size_t>(j)] / unit) : sorted.nearest(0.0);
      put_code(m.codes, shape, r, j, code);
      if (u) {
        const double* uj = u->data() + j * cols;
        const double err = (w[static_cast<size_t>(j)] - level * unit) / uj[j];
        for (int64_t k = j + 1; k < cols; ++k) w[static_cast<size_t>(k)] -= err * uj[k];
      }
    }
  }
  return m;
}

}  // namespace etch::compile
