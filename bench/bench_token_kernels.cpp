// The integer engine's kernels outside the matrix products, at a decoded token's sizes
// (kjv-8m: 8 query heads sharing 2 kv heads of 32 codes, hidden 256, FFN 768), in the fastest
// kernel set the host runs (ETCH_KERNEL_SET picks another). Items are the kernel's elements.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "run/int_kernels.hpp"

namespace {

using etch::run::int_kernels::fast;

std::vector<float> random_floats(size_t n, float scale = 1.0f) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<int16_t> random_codes(size_t n) {
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> d(-32767, 32767);
  std::vector<int16_t> v(n);
  for (auto& x : v) x = static_cast<int16_t>(d(rng));
  return v;
}

// One kv head's attention for the query heads of a decoded token (kjv-8m: 4) over `positions`
// cached rows: the head's rows and scales consecutive as in the engine's cache, or (third
// argument 2) interleaved with another head's.
void BM_AttentionDecodedToken(benchmark::State& state) {
  const int64_t positions = state.range(0), head_dim = 32, count = state.range(1);
  const int64_t kv_heads = state.range(2), stride = kv_heads * head_dim;
  const auto keys = random_codes(static_cast<size_t>(positions * stride));
  const auto values = random_codes(keys.size());
  std::vector<float> key_scales = random_floats(static_cast<size_t>(positions * kv_heads), 1e-3f);
  std::vector<float> value_scales = key_scales;
  for (auto& s : key_scales) s = std::abs(s);
  for (auto& s : value_scales) s = std::abs(s) * 0.5f;
  const auto query_codes = random_codes(static_cast<size_t>(count * head_dim));
  std::vector<const int16_t*> queries;
  std::vector<float> query_scales(static_cast<size_t>(count), 2e-3f);
  std::vector<int64_t> visible(static_cast<size_t>(count), positions);
  std::vector<float> out(static_cast<size_t>(count * head_dim));
  std::vector<float*> outputs;
  for (int64_t i = 0; i < count; ++i) {
    queries.push_back(query_codes.data() + i * head_dim);
    outputs.push_back(out.data() + i * head_dim);
  }
  const float inv = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (auto _ : state) {
    fast().attention_block(queries.data(), query_scales.data(), visible.data(), count, keys.data(),
                           values.data(), stride, key_scales.data(), value_scales.data(), kv_heads,
                           head_dim, inv, outputs.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * count * positions);
}
BENCHMARK(BM_AttentionDecodedToken)
    ->ArgsProduct({{16, 64, 128, 512}, {4}, {1}})
    ->Args({64, 4, 2})
    ->Args({64, 1, 1})
    ->Args({64, 8, 1})
    ->Args({64, 16, 1});

// A matrix product's 16-row block of sums to floats.
void BM_ScaleSums(benchmark::State& state) {
  const int64_t count = state.range(0);
  std::vector<int64_t> sums(static_cast<size_t>(count));
  for (size_t i = 0; i < sums.size(); ++i) sums[i] = static_cast<int64_t>(i * 7919) << 20;
  const auto scales = random_floats(sums.size());
  std::vector<float> out(sums.size());
  for (auto _ : state) {
    fast().scale_sums(sums.data(), count, scales.data(), 1e-4f, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * count);
}
BENCHMARK(BM_ScaleSums)->Arg(16)->Arg(4096);

void BM_SwiGLU(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto gate = random_floats(static_cast<size_t>(n), 3.0f), up = random_floats(gate.size());
  std::vector<float> g(gate.size());
  for (auto _ : state) {
    std::copy(gate.begin(), gate.end(), g.begin());  // about 2% of the time
    fast().swiglu(g.data(), up.data(), n);
    benchmark::DoNotOptimize(g.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_SwiGLU)->Arg(768);

void BM_RmsNorm(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = random_floats(static_cast<size_t>(n)), w = random_floats(x.size());
  std::vector<int16_t> out(x.size());
  for (auto _ : state)
    benchmark::DoNotOptimize(fast().rms_norm(x.data(), w.data(), n, 1e-5f, out.data()));
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_RmsNorm)->Arg(256);

void BM_Quantize(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = random_floats(static_cast<size_t>(n));
  std::vector<int16_t> out(x.size());
  for (auto _ : state) benchmark::DoNotOptimize(fast().quantize(x.data(), n, out.data()));
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Quantize)->Arg(32)->Arg(768);

void BM_ExpUnits(benchmark::State& state) {
  const int64_t n = state.range(0);
  auto d = random_floats(static_cast<size_t>(n), 3.0f);
  for (auto& x : d) x = -std::abs(x);
  std::vector<uint32_t> e(d.size());
  for (auto _ : state) {
    etch::run::int_kernels::fast().exp_units(d.data(), n, e.data());
    benchmark::DoNotOptimize(e.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ExpUnits)->Arg(256);

}  // namespace

BENCHMARK_MAIN();
