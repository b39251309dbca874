// GPU comparison: a roofline of the same model on H100, H200 and B200 at bf16, fp8 and
// 4-bit weights, at batch 1 and at the largest batch its memory holds.
#include <algorithm>
#include <array>
#include <cmath>

#include "plan/model.hpp"

namespace etch::plan::detail {

namespace {

struct Gpu {
  const char* name;
  double memory_bytes;
  double bandwidth;  // bytes/s
  double watts;
  double bf16_flops;  // dense
  double fp8_flops;
  double fp4_flops;  // 0 where there is no 4-bit tensor path: 4-bit weights run at fp8
  double price_usd;
  double host_w;  // its share of the host server: DGX system power less its GPUs, per GPU
};

// Published specifications (SXM parts); prices are street estimates, see docs/planner.md.
constexpr std::array<Gpu, 3> kGpus = {{
    {"H100", 80e9, 3.35e12, 700, 989e12, 1979e12, 0, 27500, (10200 - 8 * 700) / 8.0},
    {"H200", 141e9, 4.8e12, 700, 989e12, 1979e12, 0, 32500, (10200 - 8 * 700) / 8.0},
    {"B200", 180e9, 8.0e12, 1000, 2250e12, 4500e12, 9000e12, 37500, (14300 - 8 * 1000) / 8.0},
}};

struct Format {
  const char* name;
  double weight_bytes;  // per weight, scales included
  double kv_bytes;      // per KV element
};

constexpr std::array<Format, 3> kFormats = {{
    {"bf16", 2.0, 2.0},
    {"fp8", 1.0, 1.0},
    {"4-bit", 4.25 / 8, 1.0},
}};

constexpr double kBandwidthEfficiency = 0.80;  // achieved by tuned decode kernels
constexpr double kComputeEfficiency = 0.60;
constexpr double kMemoryUsable = 0.90;             // the rest: runtime, activations
constexpr double kSyncSecondsPerLayer = 2 * 8e-6;  // two all-reduces per layer when split
constexpr int64_t kMaxBatch = 256;
constexpr double kHostUsdPerGpu = 5000;

}  // namespace

std::vector<GpuComparison> compare_gpus(const Plan& plan) {
  const ModelShape& m = plan.input.model;
  const double params = static_cast<double>(m.total_params());
  const double active = static_cast<double>(m.active_params());
  const double context = static_cast<double>(plan.input.context);
  const double avg_context = static_cast<double>(
      std::min(plan.input.context, plan.input.prompt_tokens + plan.input.answer_tokens / 2));
  const double chip_cost_per_mtok = plan.cost.per_million_tokens_usd;

  std::vector<GpuComparison> rows;
  for (const auto& g : kGpus) {
    for (const auto& f : kFormats) {
      GpuComparison r;
      r.gpu = g.name;
      r.format = f.name;
      const double weights = params * f.weight_bytes;
      const double kv_token = static_cast<double>(m.kv_elements_per_token()) * f.kv_bytes;
      const double per_gpu = g.memory_bytes * kMemoryUsable;
      r.gpus = static_cast<int64_t>(std::ceil((weights + context * kv_token) / per_gpu));
      const double n = static_cast<double>(r.gpus);
      const double bw = n * g.bandwidth * kBandwidthEfficiency;
      const double flops_peak = f.weight_bytes < 1 && g.fp4_flops > 0 ? g.fp4_flops
                                : f.weight_bytes <= 1                 ? g.fp8_flops
                                                                      : g.bf16_flops;
      const double flops = n * flops_peak * kComputeEfficiency;
      const double sync = r.gpus > 1 ? kSyncSecondsPerLayer * static_cast<double>(m.layers) : 0;
      const double active_bytes = active * f.weight_bytes;

      const double step1 = std::max(active_bytes + avg_context * kv_token, 0.0) / bw + sync;
      r.tokens_per_second_user = 1 / step1;

      const double room = n * per_gpu - weights;
      r.batch =
          std::clamp<int64_t>(static_cast<int64_t>(room / (context * kv_token)), 1, kMaxBatch);
      // Aggregate tokens/s at a batch of b users. A batch reads each expert once if the batch
      // touches it; dense models read all. The GPUs draw their rated power at any batch (a
      // decode step keeps them busy), so energy per token falls as the batch grows.
      const auto tokens_per_second = [&](double b) {
        const double read =
            std::min(params * f.weight_bytes, active_bytes * (m.experts > 1 ? b : 1)) +
            b * avg_context * kv_token;
        const double step = std::max(read / bw, 2 * active * b / flops) + sync;
        return b / step;
      };
      const double watts = n * (g.watts + g.host_w);
      const double capex = n * (g.price_usd + kHostUsdPerGpu);
      const double energy_usd = watts * kPue * kUtilisation * kLifetimeS / 3.6e6 * kUsdPerKwh;
      const auto per_million_tokens_usd = [&](double rate) {
        return (capex + energy_usd) / (rate * kUtilisation * kLifetimeS) * 1e6;
      };
      r.tokens_per_second_aggregate = tokens_per_second(static_cast<double>(r.batch));
      r.energy_per_token_j = watts / r.tokens_per_second_aggregate;
      r.per_million_tokens_usd = per_million_tokens_usd(r.tokens_per_second_aggregate);
      r.same_users = std::min(std::max<int64_t>(plan.timing.users_in_flight, 1), r.batch);
      r.same_users_tokens_per_second_aggregate =
          tokens_per_second(static_cast<double>(r.same_users));
      r.same_users_energy_per_token_j = watts / r.same_users_tokens_per_second_aggregate;
      r.same_users_per_million_tokens_usd =
          per_million_tokens_usd(r.same_users_tokens_per_second_aggregate);

      const double chip_j = plan.power.energy_per_token_j;
      r.chip_speedup_per_user = plan.timing.tokens_per_second_per_user / r.tokens_per_second_user;
      r.chip_energy_advantage_same_users =
          chip_j > 0 ? r.same_users_energy_per_token_j / chip_j : 0;
      r.chip_cost_advantage_same_users =
          chip_cost_per_mtok > 0 ? r.same_users_per_million_tokens_usd / chip_cost_per_mtok : 0;
      r.chip_energy_advantage = chip_j > 0 ? r.energy_per_token_j / chip_j : 0;
      r.chip_cost_advantage =
          chip_cost_per_mtok > 0 ? r.per_million_tokens_usd / chip_cost_per_mtok : 0;
      rows.push_back(r);
    }
  }
  return rows;
}

}  // namespace etch::plan::detail
