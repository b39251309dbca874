// make_plan: architecture mapping, partitioning, timing, power, cost, GPU comparison.
#include <algorithm>

#include "core/error.hpp"
#include "plan/model.hpp"

namespace etch::plan {

namespace {

// The reticle of a scanner field: 26 mm x 33 mm.
constexpr double kReticleMm2 = 26.0 * 33.0;

}  // namespace

const char* circuit_name(Circuit circuit) {
  return circuit == Circuit::kCellSelect ? "cell-select" : "digital-select";
}

Circuit find_circuit(std::string_view name) {
  for (const Circuit c : {Circuit::kDigitalSelect, Circuit::kCellSelect})
    if (name == circuit_name(c)) return c;
  fail("unknown circuit '{}' (known: digital-select, cell-select)", name);
}

Area& Area::operator+=(const Area& o) {
  rom += o.rom;
  compute += o.compute;
  kv_sram += o.kv_sram;
  sram += o.sram;
  io += o.io;
  overhead += o.overhead;
  return *this;
}

Transistors& Transistors::operator+=(const Transistors& o) {
  rom += o.rom;
  logic += o.logic;
  sram += o.sram;
  datapath += o.datapath;
  return *this;
}

double Plan::die_area_mm2() const {
  double a = 0;
  for (const auto& c : chips) a = std::max(a, c.area.total());
  return a;
}

double Plan::die_transistors() const {
  double t = 0;
  for (const auto& c : chips) t = std::max(t, c.transistors.total());
  return t;
}

namespace detail {

Plan plan_at_estimates(const PlanInput& input) {
  const ModelShape& m = input.model;
  if (m.layers <= 0 || m.hidden <= 0 || m.vocab <= 0) fail("plan: the model has no shape");
  if (input.context <= 0 || input.context > kMaxContext)
    fail("--context {} is out of range: give 1 to {}", input.context, kMaxContext);
  if (input.users < 0 || input.users > kMaxUsers)
    fail("--users {} is out of range: give 1 to {}", input.users, kMaxUsers);
  if (std::max<int64_t>(input.users, 1) * input.context > kMaxKvTokens)
    fail("infeasible: {} users x {} tokens of context is more KV cache than {} tokens in all",
         std::max<int64_t>(input.users, 1), input.context, kMaxKvTokens);
  if (input.lora_rank < 0) fail("--lora-rank must not be negative");
  if (input.weights.matrices.empty()) fail("plan: {} has no weight matrices", m.name);
  if (input.rom_bits_per_transistor < 1 || input.rom_bits_per_transistor > kMaxRomBitsPerTransistor)
    fail("--rom-bits-per-transistor {} is out of range: give 1 to {}",
         input.rom_bits_per_transistor, kMaxRomBitsPerTransistor);
  if (input.synth && input.circuit == Circuit::kCellSelect)
    fail(
        "plan: {} counts the RTL's tile, a digital-select circuit; --synth does not apply to "
        "cell-select",
        input.synth->path);
  const Node& node = find_node(input.node_nm);

  Plan plan;
  plan.input = input;
  if (plan.input.users == 0) plan.input.users = 1;
  const int64_t kv_tokens =
      input.kv_tokens > 0 ? input.kv_tokens : plan.input.users * input.context;
  plan.reticle_mm2 = kReticleMm2;

  auto tiles = map_tiles(plan.input, node, kv_tokens);
  plan.chips = partition(std::move(tiles), plan.input, node, kReticleMm2);
  for (const auto& c : plan.chips) {
    plan.area += c.area;
    plan.transistors += c.transistors;
  }
  plan.rom_bits = input.weights.rom_bits();
  plan.bits_per_weight =
      static_cast<double>(plan.rom_bits) / static_cast<double>(input.weights.weights());
  plan.timing = time_plan(plan.input, node, plan.chips, kv_tokens);
  plan.power = power_plan(plan.input, node, plan.chips, plan.timing);
  plan.cost = cost_plan(node, plan.chips, plan.power, plan.timing);
  plan.gpus = compare_gpus(plan);
  return plan;
}

}  // namespace detail

Plan make_plan(const PlanInput& input) {
  Plan plan = detail::plan_at_estimates(input);
  plan.ranges = detail::estimate_ranges(input, plan);
  return plan;
}

}  // namespace etch::plan
