// Power at the plan's load: dynamic energy per token times the tokens decoded per second, the
// clock tree and wires that switch with it (gated with the idle stages), leakage of every
// transistor, I/O; the card adds its regulators and board, the deployed card its host share.
#include <algorithm>

#include "plan/model.hpp"

namespace etch::plan::detail {

Power power_plan(const PlanInput& input, const Node& node, std::vector<Chip>& chips,
                 const Timing& timing) {
  const Estimates& est = input.estimates;
  Power p;
  const double rate = timing.tokens_per_second_aggregate;
  const double leak_w = node.leak_nw * est.leakage_scale * 1e-9;
  double card_total = 0;
  for (size_t c = 0; c < chips.size(); ++c) {
    Chip& chip = chips[c];
    double energy = 0;
    for (const auto& t : chip.tiles) energy += t.energy_j;
    const double dynamic = energy * rate;
    const double clock = dynamic * est.clock_tree_share;
    const double leakage = (chip.transistors.logic + chip.transistors.rom * est.rom_leak_share +
                            chip.transistors.sram * est.sram_leak_share) *
                           leak_w;
    const bool host = c == 0 || c + 1 == chips.size();
    const double links = chips.size() > 1 ? (host ? 1 : 2) : 0;
    const double io = (host ? kHostInterfaceW : 0) + links * kChipLinkW;
    chip.power_w = dynamic + clock + leakage + io;
    p.dynamic_w += dynamic;
    p.clock_w += clock;
    p.leakage_w += leakage;
    p.io_w += io;
    card_total += chip.power_w / est.regulator_efficiency + est.board_w;
  }
  const double n = static_cast<double>(chips.size());
  p.chip_w = (p.dynamic_w + p.clock_w + p.leakage_w + p.io_w) / n;
  p.card_w = card_total / n;
  p.power_w = p.card_w + kHostShareW;
  p.total_w = p.power_w * n;
  p.energy_per_token_j = rate > 0 ? p.total_w / rate : 0;
  p.tokens_per_joule = p.total_w > 0 ? rate / p.total_w : 0;
  return p;
}

}  // namespace etch::plan::detail
