// Cost: dies per wafer, yield from a defect density, the card, the model-specific masks, and
// the cost of a million tokens over the card's life.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "plan/model.hpp"

namespace etch::plan::detail {

namespace {

constexpr double kWaferDiameterMm = 300;
constexpr double kEdgeExclusionMm = 3;
constexpr double kScribeMm = 0.1;
constexpr double kClusterAlpha = 3;         // negative-binomial clustering of defects
constexpr double kPackageTestUsd = 30;      // flip-chip package and test, fixed part
constexpr double kPackageUsdPerMm2 = 0.05;  // and the part that grows with the die
constexpr double kBoardUsd = 75;            // PCB, connector, heatsink
constexpr double kRegulatorUsdPerW = 0.5;   // multiphase regulators sized to the card
constexpr double kHostUsdPerCard = 1500;    // a 10-card host server of about $15,000

}  // namespace

Cost cost_plan(const Node& node, const std::vector<Chip>& chips, const Power& power,
               const Timing& timing) {
  Cost c;
  c.wafer_usd = node.wafer_usd;
  double cards_usd = 0;
  double dies = 0, yields = 0, die_usd = 0;
  for (const auto& chip : chips) {
    const double w = chip.width_mm + kScribeMm, h = chip.height_mm + kScribeMm;
    const double area = w * h;
    const double d = kWaferDiameterMm - 2 * kEdgeExclusionMm;
    const double per_wafer =
        std::numbers::pi * d * d / 4 / area - std::numbers::pi * d / std::sqrt(2 * area);
    const double yield =
        std::pow(1 + chip.area.total() / 100 * node.d0_per_cm2 / kClusterAlpha, -kClusterAlpha);
    const double good_die = node.wafer_usd / (std::max(per_wafer, 1.0) * yield);
    const double card = good_die + kPackageTestUsd + kPackageUsdPerMm2 * chip.area.total() +
                        kBoardUsd + kRegulatorUsdPerW * power.card_w;
    dies += per_wafer;
    yields += yield;
    die_usd += good_die;
    cards_usd += card;
  }
  const double n = static_cast<double>(chips.size());
  c.dies_per_wafer = dies / n;
  c.yield = yields / n;
  c.die_usd = die_usd / n;
  c.card_usd = cards_usd / n;
  c.system_usd = cards_usd + n * kHostUsdPerCard;
  // Each chip of a split model holds different weights, so each needs its own two via masks.
  c.mask_nre_usd = n * 2 * node.via_mask_usd;
  const double tokens = timing.tokens_per_second_aggregate * kUtilisation * kLifetimeS;
  const double energy_usd = power.total_w * kPue * kUtilisation * kLifetimeS / 3.6e6 * kUsdPerKwh;
  c.per_million_tokens_usd = tokens > 0 ? (c.system_usd + energy_usd) / tokens * 1e6 : 0;
  return c;
}

}  // namespace etch::plan::detail
