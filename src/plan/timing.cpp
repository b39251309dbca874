// Timing: cycles per matrix-vector product (one ROM wordline per cycle), per layer and per
// token; the pipeline across layers; users and aggregate throughput.
#include <algorithm>
#include <cmath>

#include "plan/model.hpp"

namespace etch::plan::detail {

namespace {

// Fixed latencies, in cycles, of the units between the matrix products.
constexpr int64_t kNormCycles = 16;  // sum of squares tree, reciprocal square root table
constexpr int64_t kRopeCycles = 4;
constexpr int64_t kSoftmaxCycles = 24;  // exponent table, running sum, reciprocal, rescale
constexpr int64_t kSiluCycles = 6;
constexpr int64_t kResidualCycles = 2;
constexpr int64_t kRouterCycles = 8;  // top-k of the router logits
constexpr int64_t kEmbedCycles = 4;

int64_t layer_cycles(const ModelShape& m, int64_t context, int64_t positions_per_cycle,
                     int64_t rows) {
  const int64_t attention = (context + positions_per_cycle - 1) / positions_per_cycle;
  int64_t c = kNormCycles + matvec_cycles(m.hidden, rows) + kRopeCycles + attention +
              kSoftmaxCycles + matvec_cycles(m.heads * m.head_dim, rows) + kResidualCycles +
              kNormCycles;
  if (m.experts > 1) c += matvec_cycles(m.hidden, rows) + kRouterCycles;
  c += matvec_cycles(m.hidden, rows) + kSiluCycles + matvec_cycles(m.ffn, rows) + kResidualCycles;
  return c;
}

int64_t head_cycles(const ModelShape& m, int64_t rows) {
  const int64_t argmax =
      static_cast<int64_t>(std::ceil(std::log2(static_cast<double>(m.vocab)) / 4)) + 2;
  return kNormCycles + matvec_cycles(m.hidden, rows) + argmax;
}

}  // namespace

Timing time_plan(const PlanInput& in, const Node& node, std::vector<Chip>& chips,
                 int64_t kv_tokens) {
  const ModelShape& m = in.model;
  Timing t;
  t.clock_hz = clock_hz(node, in.estimates);
  const int64_t rows = rom_rows(in.estimates);
  t.rom_rows = rows;
  t.kv_tokens = kv_tokens;
  const int64_t positions = kv_positions_per_cycle(kv_tokens);
  const int64_t avg_context = std::min(in.context, in.prompt_tokens + in.answer_tokens / 2);
  t.cycles_per_layer = layer_cycles(m, avg_context, positions, rows);
  t.cycles_per_token = kEmbedCycles + m.layers * t.cycles_per_layer + head_cycles(m, rows);
  for (auto& chip : chips)
    for (auto& tile : chip.tiles)
      tile.cycles = tile.first_layer >= 0             ? t.cycles_per_layer
                    : tile.name.rfind("head", 0) == 0 ? head_cycles(m, rows)
                                                      : kEmbedCycles;

  // A hop carries the residual stream between layers: one hidden vector of binary32
  // (contract::add).
  const double hop =
      kLinkLatencyS + static_cast<double>(m.hidden) * kResidualBits / 8 / kLinkBytesPerS;
  t.link_latency_s = hop * static_cast<double>(chips.size() - 1);
  t.latency_s = static_cast<double>(t.cycles_per_token) / t.clock_hz + t.link_latency_s;
  t.tokens_per_second_per_user = 1.0 / t.latency_s;

  // Five stages per layer (QKV, attention, output projection, gate/up, down) and the head:
  // each holds one token of one user.
  t.pipeline_stages = 5 * m.layers + (m.experts > 1 ? m.layers : 0) + 1;
  const int64_t stage_cycles =
      std::max(matvec_cycles(m.ffn, rows), (in.context + positions - 1) / positions);
  const double prefill =
      t.latency_s + static_cast<double>(std::max<int64_t>(in.prompt_tokens - 1, 0)) *
                        static_cast<double>(stage_cycles) / t.clock_hz;
  t.request_seconds = prefill + static_cast<double>(in.answer_tokens) * t.latency_s;

  t.users_max = kv_tokens / std::max<int64_t>(in.context, 1);
  t.users_in_flight = std::min(t.users_max, t.pipeline_stages);
  t.tokens_per_second_aggregate =
      static_cast<double>(t.users_in_flight) * t.tokens_per_second_per_user;
  return t;
}

}  // namespace etch::plan::detail
