// Decode's matrix-vector product alone: the fastest kernel set's packed_dots over random hc
// matrices of kjv-8m's shapes (Google Benchmark), in nanoseconds per 32 weights (one chunk of
// one row) as the counter "ns_per_chunk".
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "compile/compile.hpp"
#include "contract/contract.hpp"
#include "run/int_kernels.hpp"

namespace {

using namespace etch;

compile::Matrix random_hc(int bits, int64_t rows, int64_t cols) {
  std::mt19937 rng(1);
  compile::Matrix m;
  m.name = "random";
  m.format = contract::make_format(contract::WeightFormat::kHc, bits);
  m.rows = rows;
  m.cols = cols;
  m.codes.resize(static_cast<size_t>(m.view().code_bytes()));
  for (auto& c : m.codes) c = static_cast<uint8_t>(rng());
  m.levels.resize(static_cast<size_t>((rows + contract::kTileRows - 1) / contract::kTileRows)
                  << bits);
  for (auto& l : m.levels) l = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  m.multipliers.resize(static_cast<size_t>(m.view().multiplier_bytes()));
  for (auto& c : m.multipliers) c = static_cast<uint8_t>(1 + rng() % 15);
  m.scales.assign(static_cast<size_t>(rows), 1.0f);
  return m;
}

// Args: code bits, rows, cols.
void BM_PackedDots(benchmark::State& state) {
  const int bits = static_cast<int>(state.range(0));
  const int64_t rows = state.range(1), cols = state.range(2);
  const compile::Matrix m = random_hc(bits, rows, cols);
  const compile::MatrixView view = m.view();
  const run::int_kernels::PackedMatrix packed(view);
  std::mt19937 rng(2);
  std::vector<int16_t> x(static_cast<size_t>(cols));
  for (auto& v : x) v = static_cast<int16_t>(rng());
  std::vector<int64_t> out(static_cast<size_t>(rows));
  const auto& kernels = run::int_kernels::fast();
  for (auto _ : state) {
    kernels.packed_dots(x.data(), packed, 0, rows, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["ns_per_chunk"] =
      benchmark::Counter(static_cast<double>(state.iterations() * rows * cols / 32),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_PackedDots)
    ->Args({3, 768, 256})
    ->Args({4, 768, 256})
    ->Args({4, 256, 256})
    ->Args({5, 64, 256})
    ->Args({3, 256, 768})
    ->Args({3, 4096, 256})
    ->Args({6, 256, 256})
    ->Args({3, 256, 2048})
    ->Args({6, 256, 2048});

}  // namespace

BENCHMARK_MAIN();
