// The steps of make_plan, one file each: architecture mapping, partitioning, timing,
// power, cost and the GPU roofline.
#pragma once

#include <vector>

#include "plan/plan.hpp"
#include "plan/process.hpp"

namespace etch::plan::detail {

// The hardware of one contract tile (contract::tile_units) in a circuit, in transistors: the
// product bank, the selectors, the adder trees and the group multiplier-accumulators.
struct TileDatapath {
  contract::TileUnits units;
  // Cycles a datapath spends on one tile: 1 bit-parallel, the partial's width bit-serial.
  int64_t cycles_per_tile = 1;
  // Tiles one datapath computes in a matrix-vector product (one cycle per ROM wordline): the
  // ROM cells on each of its bitlines.
  int64_t tiles_per_product = 0;
  double bank_t = 0;
  double selector_t = 0;
  double adder_tree_t = 0;
  double group_mac_t = 0;
  double transistors() const { return bank_t + selector_t + adder_tree_t + group_mac_t; }
};
// With a synthesis table (digital-select only) the units are counted from it.
TileDatapath tile_datapath(const contract::Format& format, Circuit circuit, int64_t rom_rows,
                           const SynthTable* synth = nullptr);
// An m x n-bit array multiplier: m*n AND gates, (n-2)*m full adders and m half adders.
double array_multiplier_t(int m, int n);
// A serial-parallel multiplier of an n-bit parallel operand by a bit-serial one (Lyon): per
// parallel bit an AND gate, a full adder and its carry and sum flip-flops.
double serial_multiplier_t(int n);
// Metal pitches across a ROM cell whose via picks one of 2^K lines (a cell-select cell of a
// K-bit code, or a K-bit multi-level cell): its output bitline and the 2^K lines over the
// estimates' routing layers, at least the one-bit cell's width.
double line_cell_pitches(int code_bits, const Estimates& estimates);

// Every layer its own tile, plus embedding and head tiles, for the whole model.
std::vector<Tile> map_tiles(const PlanInput& input, const Node& node, int64_t kv_tokens);

// KV positions the attention unit of a layer reads per cycle (all macros in parallel).
int64_t kv_positions_per_cycle(int64_t kv_tokens);

// Cycles of one matrix-vector product whose rows are `in` long, on ROM of `rom_rows` wordlines.
int64_t matvec_cycles(int64_t in, int64_t rom_rows);

// The estimates' ROM depth as a count of wordlines.
int64_t rom_rows(const Estimates& estimates);
// The node's sustained clock with the estimates' scale.
double clock_hz(const Node& node, const Estimates& estimates);

// Splits the tiles over reticle-limited chips and adds I/O and overhead area.
std::vector<Chip> partition(std::vector<Tile> tiles, const PlanInput& input, const Node& node,
                            double reticle_mm2);

Timing time_plan(const PlanInput& input, const Node& node, std::vector<Chip>& chips,
                 int64_t kv_tokens);
Power power_plan(const PlanInput& input, const Node& node, std::vector<Chip>& chips,
                 const Timing& timing);
Cost cost_plan(const Node& node, const std::vector<Chip>& chips, const Power& power,
               const Timing& timing);
std::vector<GpuComparison> compare_gpus(const Plan& plan);

// Per-node energies of the datapath's operations, in joules.
struct Energies {
  double rom_bit;  // one ROM cell read (a bitline of `rom_rows` cells)
  double add16;    // scales with width: a w-bit add costs add16 * w / 16
  double add32;
  double mult8;  // scales with partial products: an m x n multiply costs mult8 * m * n / 64
  double sram_bit;
};
Energies energies(const Node& node, const Estimates& estimates);

// make_plan without the ranges (what the ranges and the sensitivity re-run).
Plan plan_at_estimates(const PlanInput& input);
// The ranges of plan_at_estimates(input)'s figures over every estimate's range.
Ranges estimate_ranges(const PlanInput& input, const Plan& expected);

// Host share and operating assumptions used by both the chip and the GPU cost figures.
inline constexpr double kLifetimeS = 3 * 365.25 * 86400;
inline constexpr double kUtilisation = 0.5;
inline constexpr double kUsdPerKwh = 0.10;
inline constexpr double kPue = 1.3;

}  // namespace etch::plan::detail
