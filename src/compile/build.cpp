// Recipes: which weight format each matrix gets, and the hc1 mixed-precision selection.
#include <algorithm>
#include <cmath>
#include <functional>
#include <iterator>
#include <optional>

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

// The float weights a quantized matrix stands for: scale * multiplier * level.
std::vector<float> dequantized(const MatrixView& v) {
  std::vector<float> out(static_cast<size_t>(v.rows * v.cols));
  std::vector<int8_t> ints(static_cast<size_t>(v.cols));
  for (int64_t r = 0; r < v.rows; ++r) {
    v.decode_row(r, ints.data());
    for (int64_t j = 0; j < v.cols; ++j)
      out[static_cast<size_t>(r * v.cols + j)] =
          static_cast<float>(static_cast<double>(v.scales[static_cast<size_t>(r)]) *
                             v.multiplier(r, j / v.group) * ints[static_cast<size_t>(j)]);
  }
  return out;
}

// Output error a quantized matrix causes, relative to the output itself: sum over rows of
// d^T H d / w^T H w with d the weight error (H = identity without calibration).
double relative_error(const Matrix& q, const std::vector<float>& w, const InputStatistics* stats) {
  const MatrixView v = q.view();
  const int64_t cols = v.cols;
  const bool use_h = stats && stats->dim == cols;
  const std::vector<float> approx = dequantized(v);
  std::vector<double> d(static_cast<size_t>(cols));
  double error = 0, signal = 0;
  for (int64_t r = 0; r < v.rows; ++r) {
    const float* wr = w.data() + r * cols;
    for (int64_t j = 0; j < cols; ++j)
      d[static_cast<size_t>(j)] =
          static_cast<double>(wr[j]) - approx[static_cast<size_t>(r * cols + j)];
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

// The formats a matrix may take: the recipe's base alone, or for a mixed recipe every code
// width from the base's to the upgrade's.
std::vector<contract::Format> format_choices(const contract::Recipe& recipe) {
  if (!recipe.mixed) return {recipe.base};
  std::vector<contract::Format> out;
  for (int bits = recipe.base.bits; bits <= recipe.upgrade.bits; ++bits)
    out.push_back(contract::make_format(recipe.base.kind, bits));
  return out;
}

// fn(i) for every i in [begin, end), in batches of one index per thread, with
// after_batch(count) between batches so that progress can be reported.
void for_each_in_batches(ThreadPool& pool, int64_t begin, int64_t end,
                         const std::function<void(int64_t)>& fn,
                         const std::function<void(int64_t)>& after_batch) {
  for (int64_t first = begin; first < end; first += pool.size()) {
    const int64_t count = std::min<int64_t>(pool.size(), end - first);
    pool.parallel_for(count, [&](int64_t lo, int64_t hi) {
      for (int64_t i = first + lo; i < first + hi; ++i) fn(i);
    });
    after_batch(count);
  }
}

// Each layer matrix's quantization_correction of `rank`, rounded to the chip's int8 adapter.
SramAdapter correction_adapter(const std::vector<Source>& sources,
                               const std::vector<Matrix>& matrices, int64_t rank, ThreadPool& pool,
                               const std::function<void(int64_t)>& on_corrected) {
  import::Adapter adapter;
  adapter.name = "correction";
  // sources[0] is the token embedding and the last the output head: the contract's LoRA path
  // is on the layer matrices only.
  const int64_t per_layer = std::size(import::kLayerMatrices);
  const auto last = static_cast<int64_t>(sources.size()) - 1;
  adapter.matrices.resize(static_cast<size_t>(last - 1));
  for_each_in_batches(
      pool, 1, last,
      [&](int64_t i) {
        const Source& s = sources[static_cast<size_t>(i)];
        import::AdapterMatrix m = quantization_correction(
            to_floats(*s.tensor), matrices[static_cast<size_t>(i)].view(), s.statistics, rank);
        m.role = import::kLayerMatrices[static_cast<size_t>((i - 1) % per_layer)];
        m.layer = (i - 1) / per_layer;
        adapter.matrices[static_cast<size_t>(i - 1)] = std::move(m);
      },
      on_corrected);
  return quantize_adapter(adapter, 1.0f);
}

}  // namespace

void build(const import::Model& model, const Calibration* calibration, const BuildOptions& options,
           const std::string& path) {
  const auto& cfg = model.config;
  const contract::Recipe& recipe = contract::find_recipe(options.recipe);
  if (options.correct_rank > 0 && options.adapter)
    fail("a .etch holds one adapter: a quantization correction and a LoRA adapter were given");
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

  const std::vector<contract::Format> choices = format_choices(recipe);
  const double budget_bits_per_weight =
      options.bits_per_weight > 0 ? options.bits_per_weight : recipe.default_budget;
  const auto n = static_cast<int64_t>(sources.size());
  const auto c = static_cast<int64_t>(choices.size());
  // quantized[i][k]: matrix i in choices[k]; loss[i][k]: what that choice is estimated to cost.
  std::vector<std::vector<Matrix>> quantized(static_cast<size_t>(n));
  std::vector<std::vector<double>> loss(static_cast<size_t>(n));

  ThreadPool pool(options.threads > 0 ? options.threads : ThreadPool::default_threads());
  const bool probe = recipe.mixed && options.loss_probe;
  // Corrections are computed for the layer matrices: all but the embedding and output head.
  const int64_t total = n * c + (probe ? n : 0) + (options.correct_rank > 0 ? n - 2 : 0);
  int64_t done = 0;
  for_each_in_batches(
      pool, 0, n,
      [&](int64_t i) {
        Source& s = sources[static_cast<size_t>(i)];
        s.weights = to_floats(*s.tensor);
        const int64_t rows = s.tensor->rows(), cols = s.tensor->cols();
        for (const contract::Format& format : choices) {
          quantized[static_cast<size_t>(i)].push_back(
              quantize(s.name, s.weights, rows, cols, format, s.statistics));
          if (recipe.mixed)
            loss[static_cast<size_t>(i)].push_back(
                relative_error(quantized[static_cast<size_t>(i)].back(), s.weights, s.statistics));
        }
        s.weights = {};
      },
      [&](int64_t count) {
        done += count * c;
        if (options.on_progress) options.on_progress(done, total);
      });

  EtchContents contents;
  if (recipe.mixed) {
    if (probe) {
      // The loss a matrix's base-format rounding causes, measured on the model; the other
      // widths are taken to cost in proportion to their relative output error.
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double>& l = loss[static_cast<size_t>(i)];
        const double measured = options.loss_probe(
            static_cast<size_t>(i), dequantized(quantized[static_cast<size_t>(i)][0].view()));
        const double base = l[0];
        for (double& e : l) e = base > 0 ? std::max(measured, 0.0) * e / base : 0;
        if (options.on_progress) options.on_progress(++done, total);
      }
    }
    // Greedy under the budget: take the widening (a matrix to any wider choice) that saves
    // the most estimated loss per added ROM bit, until none that still fits saves any.
    uint64_t params = 0, bits = 0;
    for (const auto& q : quantized) {
      params += static_cast<uint64_t>(q[0].rows * q[0].cols);
      bits += q[0].view().rom_bits();
    }
    const auto budget = static_cast<uint64_t>(budget_bits_per_weight * static_cast<double>(params));
    if (bits > budget)
      fail("{}: {} codes alone need {:.3f} bits per weight, over the budget of {}", recipe.name,
           recipe.base.name(), static_cast<double>(bits) / static_cast<double>(params),
           budget_bits_per_weight);
    std::vector<size_t> chosen(static_cast<size_t>(n), 0);
    auto rom = [&](int64_t i, size_t k) {
      return quantized[static_cast<size_t>(i)][k].view().rom_bits();
    };
    for (;;) {
      double best_gain = 0;
      int64_t best = -1;
      size_t best_choice = 0;
      for (int64_t i = 0; i < n; ++i) {
        const size_t from = chosen[static_cast<size_t>(i)];
        for (size_t k = from + 1; k < static_cast<size_t>(c); ++k) {
          const uint64_t extra = rom(i, k) - rom(i, from);
          if (bits + extra > budget) continue;
          const double gain =
              (loss[static_cast<size_t>(i)][from] - loss[static_cast<size_t>(i)][k]) /
              static_cast<double>(extra);
          if (gain > best_gain) {
            best_gain = gain;
            best = i;
            best_choice = k;
          }
        }
      }
      if (best < 0) break;
      bits += rom(best, best_choice) - rom(best, chosen[static_cast<size_t>(best)]);
      chosen[static_cast<size_t>(best)] = best_choice;
    }
    for (int64_t i = 0; i < n; ++i)
      contents.matrices.push_back(
          std::move(quantized[static_cast<size_t>(i)][chosen[static_cast<size_t>(i)]]));
  } else {
    for (auto& q : quantized) contents.matrices.push_back(std::move(q[0]));
  }

  contents.config = cfg;
  contents.vocab = model.vocab;
  contents.recipe =
      recipe.mixed ? fmt::format("{} ({}..{}, budget {} bits per weight)", recipe.name,
                                 recipe.base.name(), recipe.upgrade.name(), budget_bits_per_weight)
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
  std::optional<SramAdapter> correction;
  if (options.correct_rank > 0) {
    correction = correction_adapter(sources, contents.matrices, options.correct_rank, pool,
                                    [&](int64_t count) {
                                      done += count;
                                      if (options.on_progress) options.on_progress(done, total);
                                    });
  }
  contents.adapter = correction ? &*correction : options.adapter;
  write_etch(path, contents);
}

}  // namespace etch::compile
