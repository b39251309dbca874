// Recipes: which weight format each matrix gets, and the hc1 mixed-precision selection.
#include <algorithm>
#include <cmath>

#include "compile/compile.hpp"
#include "compile/format.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"

namespace etch::compile {

namespace {

struct Source {
  std::string name;
  const import::Tensor* tensor;
  const InputStatistics* statistics;
  std::vector<float> weights;
};

std::vector<float> to_floats(const import::Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.elements()));
  for (int64_t r = 0; r < t.rows(); ++r) t.dequantize_row(r, out.data() + r * t.cols());
  return out;
}

// Output error a quantized matrix causes, relative to the output itself: sum over rows of
// d^T H d / w^T H w with d the weight error (H = identity without calibration).
double relative_error(const Matrix& q, const std::vector<float>& w, const InputStatistics* stats) {
  const MatrixView v = q.view();
  const int64_t cols = v.cols;
  const bool use_h = stats && stats->dim == cols;
  std::vector<int8_t> ints(static_cast<size_t>(cols));
  std::vector<double> d(static_cast<size_t>(cols));
  double error = 0, signal = 0;
  for (int64_t r = 0; r < v.rows; ++r) {
    v.decode_row(r, ints.data());
    const float* wr = w.data() + r * cols;
    for (int64_t j = 0; j < cols; ++j)
      d[static_cast<size_t>(j)] = wr[j] - static_cast<double>(v.scales[static_cast<size_t>(r)]) *
                                              v.multiplier(r, j / v.group) *
                                              ints[static_cast<size_t>(j)];
    if (!use_h) {
      for (int64_t j = 0; j < cols; ++j) {
        error += d[static_cast<size_t>(j)] * d[static_cast<size_t>(j)];
        signal += static_cast<double>(wr[j]) * wr[j];
      }
      continue;
    }
    // H is stored lower-triangular: x^T H x = sum_i H_ii x_i^2 + 2 sum_{j<i} H_ij x_i x_j.
    for (int64_t i = 0; i < cols; ++i) {
      const double* h = stats->h.data() + i * cols;
      double de = 0, ws = 0;
      for (int64_t j = 0; j < i; ++j) {
        de += h[j] * d[static_cast<size_t>(j)];
        ws += h[j] * wr[j];
      }
      error += d[static_cast<size_t>(i)] * (2 * de + h[i] * d[static_cast<size_t>(i)]);
      signal += wr[i] * (2 * ws + h[i] * wr[i]);
    }
  }
  return signal > 0 ? error / signal : 0;
}

}  // namespace

void build(const import::Model& model, const Calibration* calibration, const BuildOptions& options,
           const std::string& path) {
  const auto& cfg = model.config;
  const contract::Recipe& recipe = contract::find_recipe(options.recipe);
  auto stats = [&](import::Role role, int64_t layer) {
    return calibration ? calibration->find(role, layer) : nullptr;
  };
  std::vector<Source> sources;
  sources.push_back(
      {etch_name(import::Role::kTokenEmbedding), &model.token_embedding, nullptr, {}});
  for (int64_t l = 0; l < cfg.layers; ++l)
    for (import::Role role : import::kLayerMatrices)
      sources.push_back({etch_name(role, l),
                         &model.layers[static_cast<size_t>(l)].matrix(role),
                         stats(role, l),
                         {}});
  sources.push_back(
      {etch_name(import::Role::kOutput), &model.output, stats(import::Role::kOutput, -1), {}});

  const bool mixed = recipe.mixed;
  const contract::Format& base = recipe.base;
  const contract::Format& upgrade = recipe.upgrade;
  const double budget_bits_per_weight =
      options.bits_per_weight > 0 ? options.bits_per_weight : recipe.default_budget;
  const auto n = static_cast<int64_t>(sources.size());
  std::vector<Matrix> low(static_cast<size_t>(n)), high(mixed ? static_cast<size_t>(n) : 0);
  std::vector<double> low_error(static_cast<size_t>(n)), high_error(static_cast<size_t>(n));

  ThreadPool pool(options.threads > 0 ? options.threads : ThreadPool::default_threads());
  const int64_t total = n * (mixed ? 2 : 1);
  int64_t done = 0;
  // Matrices in batches of one per thread, so progress can be reported between batches.
  for (int64_t begin = 0; begin < n; begin += pool.size()) {
    const int64_t count = std::min<int64_t>(pool.size(), n - begin);
    pool.parallel_for(count, [&](int64_t lo, int64_t hi) {
      for (int64_t i = begin + lo; i < begin + hi; ++i) {
        Source& s = sources[static_cast<size_t>(i)];
        s.weights = to_floats(*s.tensor);
        const int64_t rows = s.tensor->rows(), cols = s.tensor->cols();
        low[static_cast<size_t>(i)] = quantize(s.name, s.weights, rows, cols, base, s.statistics);
        if (mixed) {
          high[static_cast<size_t>(i)] =
              quantize(s.name, s.weights, rows, cols, upgrade, s.statistics);
          low_error[static_cast<size_t>(i)] =
              relative_error(low[static_cast<size_t>(i)], s.weights, s.statistics);
          high_error[static_cast<size_t>(i)] =
              relative_error(high[static_cast<size_t>(i)], s.weights, s.statistics);
        }
        s.weights = {};
      }
    });
    done += count * (mixed ? 2 : 1);
    if (options.on_progress) options.on_progress(done, total);
  }

  EtchContents contents;
  if (mixed) {
    // Greedy under the budget: upgrade the matrices whose relative output error falls most
    // per added ROM bit, until the next one no longer fits.
    uint64_t params = 0, bits = 0;
    for (const auto& m : low) {
      params += static_cast<uint64_t>(m.rows * m.cols);
      bits += m.view().rom_bits();
    }
    const auto budget = static_cast<uint64_t>(budget_bits_per_weight * static_cast<double>(params));
    if (bits > budget)
      fail("{}: {} codes alone need {:.3f} bits per weight, over the budget of {}", recipe.name,
           base.name(), static_cast<double>(bits) / static_cast<double>(params),
           budget_bits_per_weight);
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    auto gain = [&](int64_t i) {
      const auto extra = static_cast<double>(high[static_cast<size_t>(i)].view().rom_bits() -
                                             low[static_cast<size_t>(i)].view().rom_bits());
      return (low_error[static_cast<size_t>(i)] - high_error[static_cast<size_t>(i)]) / extra;
    };
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return gain(a) > gain(b); });
    std::vector<bool> upgraded(static_cast<size_t>(n), false);
    for (int64_t i : order) {
      const uint64_t extra = high[static_cast<size_t>(i)].view().rom_bits() -
                             low[static_cast<size_t>(i)].view().rom_bits();
      if (bits + extra > budget) continue;
      bits += extra;
      upgraded[static_cast<size_t>(i)] = true;
    }
    for (int64_t i = 0; i < n; ++i)
      contents.matrices.push_back(std::move(upgraded[static_cast<size_t>(i)]
                                                ? high[static_cast<size_t>(i)]
                                                : low[static_cast<size_t>(i)]));
  } else {
    contents.matrices = std::move(low);
  }

  contents.config = cfg;
  contents.vocab = model.vocab;
  contents.recipe = mixed ? fmt::format("{} ({}/{}, budget {} bits per weight)", recipe.name,
                                        base.name(), upgrade.name(), budget_bits_per_weight)
                          : recipe.name;
  contents.calibration =
      calibration ? fmt::format("{} ({} tokens)", options.calibration_name, calibration->tokens())
                  : "none";
  for (int64_t l = 0; l < cfg.layers; ++l) {
    const auto& w = model.layers[static_cast<size_t>(l)];
    contents.vectors.emplace_back(etch_name(import::Role::kAttnNorm, l), to_floats(w.attn_norm));
    contents.vectors.emplace_back(etch_name(import::Role::kFfnNorm, l), to_floats(w.ffn_norm));
    const std::pair<import::Role, const std::optional<import::Tensor>*> biases[] = {
        {import::Role::kAttnQBias, &w.bq},
        {import::Role::kAttnKBias, &w.bk},
        {import::Role::kAttnVBias, &w.bv},
        {import::Role::kAttnOutputBias, &w.bo}};
    for (const auto& [role, bias] : biases)
      if (bias->has_value()) contents.vectors.emplace_back(etch_name(role, l), to_floats(**bias));
  }
  contents.o_bias = !model.layers.empty() && model.layers.front().bo.has_value();
  contents.vectors.emplace_back(etch_name(import::Role::kOutputNorm), to_floats(model.output_norm));
  // RoPE as tables over the model's context: the chip reads them from SRAM, so no backend
  // depends on a math library's cos and sin.
  contents.rope_positions =
      std::clamp<int64_t>(cfg.context_length > 0 ? cfg.context_length : 4096, 1, 32768);
  const std::vector<double> inv = import::rope_inverse_frequencies(cfg.rope);
  std::vector<float> cos_table, sin_table;
  for (int64_t p = 0; p < contents.rope_positions; ++p)
    for (double f : inv) {
      cos_table.push_back(static_cast<float>(std::cos(static_cast<double>(p) * f)));
      sin_table.push_back(static_cast<float>(std::sin(static_cast<double>(p) * f)));
    }
  contents.vectors.emplace_back("rope.cos", std::move(cos_table));
  contents.vectors.emplace_back("rope.sin", std::move(sin_table));
  contents.adapter = options.adapter;
  write_etch(path, contents);
}

}  // namespace etch::compile
