// Power: dynamic energy per token times the tokens in flight, leakage of every transistor,
// I/O; the card adds its regulators and board.
#include <algorithm>

#include "plan/model.hpp"

namespace etch::plan::detail {

Power power_plan(const Node& node, std::vector<Chip>& chips, const Timing& timing) {
  Power p;
  const double rate = timing.tokens_per_second_aggregate;
  double card_total = 0;
  for (size_t c = 0; c < chips.size(); ++c) {
    Chip& chip = chips[c];
    double energy = 0;
    for (const auto& t : chip.tiles) energy += t.energy_j;
    const double dynamic = energy * rate * (1 + kControlShare);
    const double leakage = (chip.transistors.logic + chip.transistors.rom * kRomLeakShare +
                            chip.transistors.sram * kSramLeakShare) *
                           node.leak_nw * 1e-9;
    const bool host = c == 0 || c + 1 == chips.size();
    const double links = chips.size() > 1 ? (host ? 1 : 2) : 0;
    const double io = (host ? kHostInterfaceW : 0) + links * kChipLinkW;
    chip.power_w = dynamic + leakage + io;
    p.dynamic_w += dynamic;
    p.leakage_w += leakage;
    p.io_w += io;
    card_total += chip.power_w / kRegulatorEfficiency + kBoardW;
  }
  const double n = static_cast<double>(chips.size());
  p.chip_w = (p.dynamic_w + p.leakage_w + p.io_w) / n;
  p.card_w = card_total / n;
  p.power_w = p.card_w + kHostServerW / kCardsPerServer;
  p.total_w = p.power_w * n;
  p.energy_per_token_j = rate > 0 ? p.total_w / rate : 0;
  p.tokens_per_joule = p.total_w > 0 ? rate / p.total_w : 0;
  return p;
}

}  // namespace etch::plan::detail
