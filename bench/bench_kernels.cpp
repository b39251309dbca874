// Throughput of the float engine's inner kernels (Google Benchmark).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "run/kernels.hpp"

namespace {

std::vector<float> random_floats(size_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// One 4-token x `rows` block of a matrix product, the unit of prompt processing.
void BM_Dot(benchmark::State& state) {
  const int64_t n = state.range(0), rows = 256;
  const auto w = random_floats(static_cast<size_t>(rows * n)),
             x = random_floats(static_cast<size_t>(4 * n));
  for (auto _ : state)
    for (int64_t r = 0; r < rows; ++r)
      for (int t = 0; t < 4; ++t)
        benchmark::DoNotOptimize(etch::run::kernels::dot(&w[r * n], &x[t * n], n));
  state.SetItemsProcessed(state.iterations() * rows * 4 * n * 2);  // flops
}

void BM_DotBlock4x2(benchmark::State& state) {
  const int64_t n = state.range(0), rows = 256;
  const auto w = random_floats(static_cast<size_t>(rows * n)),
             x = random_floats(static_cast<size_t>(4 * n));
  float out[8];
  for (auto _ : state)
    for (int64_t r = 0; r < rows; r += 4)
      for (int t = 0; t < 4; t += 2) {
        const float* ws[4] = {&w[r * n], &w[(r + 1) * n], &w[(r + 2) * n], &w[(r + 3) * n]};
        const float* xs[2] = {&x[t * n], &x[(t + 1) * n]};
        etch::run::kernels::dot_block(ws, 4, xs, 2, n, out);
        benchmark::DoNotOptimize(out);
      }
  state.SetItemsProcessed(state.iterations() * rows * 4 * n * 2);
}

BENCHMARK(BM_Dot)->Arg(256)->Arg(768)->Arg(4096);
BENCHMARK(BM_DotBlock4x2)->Arg(256)->Arg(768)->Arg(4096);

}  // namespace

BENCHMARK_MAIN();
