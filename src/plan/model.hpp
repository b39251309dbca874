// The steps of make_plan, one file each: architecture mapping, partitioning, timing,
// power, cost and the GPU roofline.
#pragma once

#include <vector>

#include "plan/plan.hpp"
#include "plan/process.hpp"

namespace etch::plan::detail {

// How a recipe's codes become select-add slices: codes of up to 4 bits select among 2^K
// products directly; wider codes split into 3-bit slices (affine codes) whose partial sums
// are shifted into place.
struct Slicing {
  double slices_per_weight = 0;
  double lane_transistors = 0;  // average per slice
  double candidate_sets = 0;    // distinct candidate-product banks per input element
  double bank_transistors = 0;  // one bank: multiplier and latched candidates
};
Slicing slicing(const Recipe& recipe);

// Every layer its own tile, plus embedding and head tiles, for the whole model.
std::vector<Tile> map_tiles(const PlanInput& input, const Node& node, int64_t kv_tokens);

// KV positions the attention unit of a layer reads per cycle (all macros in parallel).
int64_t kv_positions_per_cycle(int64_t kv_tokens);

// Cycles of one matrix-vector product whose rows are `in` long.
int64_t matvec_cycles(int64_t in);

// Splits the tiles over reticle-limited chips and adds I/O and overhead area.
std::vector<Chip> partition(std::vector<Tile> tiles, const PlanInput& input, const Node& node,
                            double reticle_mm2);

Timing time_plan(const PlanInput& input, const Node& node, std::vector<Chip>& chips,
                 int64_t kv_tokens);
Power power_plan(const Node& node, std::vector<Chip>& chips, const Timing& timing);
Cost cost_plan(const Node& node, const std::vector<Chip>& chips, const Power& power,
               const Timing& timing);
std::vector<GpuComparison> compare_gpus(const Plan& plan);

// Per-node energies of the datapath's operations, in joules.
struct Energies {
  double rom_bit;
  double slice;
  double mult8;
  double mac8;
  double sram_bit;
};
Energies energies(const Node& node);

// Host share and operating assumptions used by both the chip and the GPU cost figures.
inline constexpr double kLifetimeS = 3 * 365.25 * 86400;
inline constexpr double kUtilisation = 0.5;
inline constexpr double kUsdPerKwh = 0.10;
inline constexpr double kPue = 1.3;

}  // namespace etch::plan::detail
