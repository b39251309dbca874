// The planner's engineering estimates, their ranges, the low/expected/high figures they give,
// and the sensitivity table of docs/planner.md. Why each range: docs/planner.md, "Estimates".
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "plan/model.hpp"

namespace etch::plan {

const std::vector<EstimateInfo>& estimate_table() {
  // key, what, member, low, high, bound
  static const std::vector<EstimateInfo> table = {
      {"rom_rows", "ROM cells per bitline", &Estimates::rom_rows, 256, 1024, 4096},
      {"clock_scale", "clock, x the node's", &Estimates::clock_scale, 0.83, 1.17, 2},
      {"logic_utilisation", "placed / peak logic density", &Estimates::logic_utilisation, 0.50,
       0.72, 1},
      {"overhead_fraction", "grid, clock spine, whitespace", &Estimates::overhead_fraction, 0.08,
       0.20, 1},
      {"rom_array_efficiency", "ROM cells / array area", &Estimates::rom_array_efficiency, 0.80,
       0.95, 1},
      {"rom_cell_pitches", "metal pitches across a ROM cell", &Estimates::rom_cell_pitches, 3, 4,
       8},
      {"line_layers", "layers for level/product lines", &Estimates::line_layers, 2, 6, 8},
      {"leakage_scale", "leakage, x the node's", &Estimates::leakage_scale, 0.5, 2, 8},
      {"rom_leak_share", "ROM cell leakage / logic", &Estimates::rom_leak_share, 0.05, 0.30, 1},
      {"sram_leak_share", "SRAM leakage / logic", &Estimates::sram_leak_share, 0.01, 0.10, 1},
      {"energy_scale", "energy per op, x the node's", &Estimates::energy_scale, 0.44, 1.25, 4},
      {"clock_tree_share", "clock tree and wires / dynamic", &Estimates::clock_tree_share, 0.10,
       0.50, 2},
      {"regulator_efficiency", "card regulators", &Estimates::regulator_efficiency, 0.85, 0.92, 1},
      {"board_w", "card board, W", &Estimates::board_w, 5, 20, 100},
  };
  return table;
}

namespace {

using Figure = FigureRange Ranges::*;

// Every figure of Ranges with how a plan gives it.
const std::vector<std::pair<Figure, std::function<double(const Plan&)>>>& figures() {
  static const std::vector<std::pair<Figure, std::function<double(const Plan&)>>> f = {
      {&Ranges::area_mm2, [](const Plan& p) { return p.area.total(); }},
      {&Ranges::transistors, [](const Plan& p) { return p.transistors.total(); }},
      {&Ranges::chips, [](const Plan& p) { return static_cast<double>(p.chip_count()); }},
      {&Ranges::tokens_per_second_per_user,
       [](const Plan& p) { return p.timing.tokens_per_second_per_user; }},
      {&Ranges::tokens_per_second_aggregate,
       [](const Plan& p) { return p.timing.tokens_per_second_aggregate; }},
      {&Ranges::cards_w, [](const Plan& p) { return p.power.card_w * p.chip_count(); }},
      {&Ranges::deployed_w, [](const Plan& p) { return p.power.total_w; }},
      {&Ranges::energy_per_token_j, [](const Plan& p) { return p.power.energy_per_token_j; }},
  };
  return f;
}

Plan plan_with(const PlanInput& input, const EstimateInfo& e, double value) {
  PlanInput moved = input;
  moved.estimates.*e.member = value;
  return detail::plan_at_estimates(moved);
}

// Each figure of `moved` relative to `expected`, minus one.
Ranges relative(const Plan& moved, const Plan& expected) {
  Ranges r;
  for (const auto& [figure, value] : figures()) {
    const double base = value(expected);
    (r.*figure).expected = base != 0 ? value(moved) / base - 1 : 0;
  }
  return r;
}

}  // namespace

namespace detail {

Ranges estimate_ranges(const PlanInput& input, const Plan& expected) {
  // The estimates are independent, so a figure's deviations combine in root-sum-square, in
  // log space (a figure is a product of factors, and stays positive): low = expected x
  // exp(-sqrt(sum of ln(lowering ratio)^2)), high likewise with the raising ratios.
  Ranges r, down, up;
  for (const auto& [figure, value] : figures()) (r.*figure).expected = value(expected);
  for (const auto& e : estimate_table()) {
    const Plan low = plan_with(input, e, e.low);
    const Plan high = plan_with(input, e, e.high);
    for (const auto& [figure, value] : figures()) {
      const double base = (r.*figure).expected;
      if (base <= 0) continue;
      const double a = std::log(value(low) / base), b = std::log(value(high) / base);
      const double lower = std::min({0.0, a, b}), higher = std::max({0.0, a, b});
      (down.*figure).expected += lower * lower;
      (up.*figure).expected += higher * higher;
    }
  }
  for (const auto& [figure, value] : figures()) {
    FigureRange& f = r.*figure;
    f.low = f.expected * std::exp(-std::sqrt((down.*figure).expected));
    f.high = f.expected * std::exp(std::sqrt((up.*figure).expected));
  }
  return r;
}

}  // namespace detail

std::vector<SensitivityRow> sensitivity(const PlanInput& input) {
  const Plan expected = detail::plan_at_estimates(input);
  std::vector<SensitivityRow> rows;
  for (const auto& e : estimate_table()) {
    SensitivityRow row;
    row.estimate = &e;
    const double value = input.estimates.*e.member;
    row.half_value = value / 2;
    row.double_value = std::min(value * 2, e.bound);
    row.half = relative(plan_with(input, e, row.half_value), expected);
    row.twice = relative(plan_with(input, e, row.double_value), expected);
    rows.push_back(row);
  }
  return rows;
}

namespace {

std::string percent(double x) {
  if (std::abs(x) < 0.0005) return "0";
  return fmt::format("{:+.1f}%", x * 100);
}

}  // namespace

std::string render_sensitivity(const PlanInput& input, const std::vector<SensitivityRow>& rows) {
  const Plan p = detail::plan_at_estimates(input);
  std::string out = fmt::format(
      "Sensitivity of {} at {} nm ({}, {} bit{} per ROM transistor, {} user{} at {} tokens): "
      "each estimate halved / doubled (a fraction at most 1), the others at their values.\n\n",
      input.model.name, input.node_nm, circuit_name(input.circuit), input.rom_bits_per_transistor,
      input.rom_bits_per_transistor == 1 ? "" : "s", p.input.users, p.input.users == 1 ? "" : "s",
      input.context);
  out +=
      "| estimate | value | x0.5 / x2 | silicon | transistors | chips | tokens/s per user | "
      "cards W | mJ per token |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    const auto pair = [&](Figure f) {
      return percent((r.half.*f).expected) + " / " + percent((r.twice.*f).expected);
    };
    // Chips are a count: given as counts, not as a change.
    const double chips = p.chip_count();
    const std::string chip_counts =
        fmt::format("{:.0f} / {:.0f}", chips * (1 + r.half.chips.expected),
                    chips * (1 + r.twice.chips.expected));
    out += fmt::format("| `{}` ({}) | {:g} | {:g} / {:g} | {} | {} | {} | {} | {} | {} |\n",
                       r.estimate->key, r.estimate->what, input.estimates.*r.estimate->member,
                       r.half_value, r.double_value, pair(&Ranges::area_mm2),
                       pair(&Ranges::transistors), chip_counts,
                       pair(&Ranges::tokens_per_second_per_user), pair(&Ranges::cards_w),
                       pair(&Ranges::energy_per_token_j));
  }
  out += fmt::format(
      "\nAt the values: {:.0f} mm² of silicon, {:.1f} B transistors, {} chip{}, {:.0f} tokens/s "
      "per user, {:.0f} W in cards, {:.2f} mJ per token (as deployed). Silicon, transistors and "
      "watts are the model's, over all its chips and cards.\n",
      p.area.total(), p.transistors.total() / 1e9, p.chip_count(), p.chip_count() == 1 ? "" : "s",
      p.timing.tokens_per_second_per_user, p.power.card_w * p.chip_count(),
      p.power.energy_per_token_j * 1e3);
  return out;
}

}  // namespace etch::plan
