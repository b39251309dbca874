// The terminal report: what a chip architect reads first, then the GPU comparison.
#include <fmt/format.h>

#include <cmath>

#include "plan/plan.hpp"

namespace etch::plan {

namespace {

std::string billions(double x) {
  return fmt::format("{:.1f} B", x / 1e9);
}

// 17000 -> "17,000": thousands separators keep big rates readable.
std::string grouped(double x) {
  const auto n = static_cast<long long>(std::llround(x));
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string money(double usd) {
  if (usd >= 1e6) return fmt::format("${:.1f} M", usd / 1e6);
  if (usd >= 1e3) return "$" + grouped(usd);
  if (usd >= 1) return fmt::format("${:.0f}", usd);
  return fmt::format("${:.4f}", usd);
}

void area_line(std::string& out, const Area& a) {
  out += fmt::format(
      "  area       ROM {:.1f}, compute {:.1f}, KV SRAM {:.1f}, other SRAM {:.1f}, I/O {:.1f}, "
      "overhead {:.1f} mm²\n",
      a.rom, a.compute, a.kv_sram, a.sram, a.io, a.overhead);
}

}  // namespace

std::string render_text(const Plan& p) {
  const auto& in = p.input;
  const auto& m = in.model;
  const auto& t = p.timing;
  std::string out;
  out += fmt::format(
      "etch plan: {} ({:.2f} B parameters) at {} nm, recipe {}; {:.3f} ROM bits per weight\n",
      m.name, static_cast<double>(m.total_params()) / 1e9, in.node_nm, in.weights.label,
      p.bits_per_weight);
  out += fmt::format(
      "  {} tokens per user ({} prompt + {} answer), KV SRAM for {} tokens, LoRA rank {}; "
      "circuit {}, {} bit{} per ROM transistor\n",
      in.context, in.prompt_tokens, in.answer_tokens, t.kv_tokens, in.lora_rank,
      circuit_name(in.circuit), in.rom_bits_per_transistor,
      in.rom_bits_per_transistor == 1 ? "" : "s");
  if (in.synth)
    out += fmt::format("  tile datapaths counted from synthesis: {} ({}, {})\n", in.synth->path,
                       in.synth->yosys, in.synth->date);
  out += "\n";

  if (p.chip_count() == 1) {
    const Chip& c = p.chips.front();
    out += fmt::format(
        "Die          {:.0f} mm² ({:.1f} x {:.1f} mm; reticle {:.0f} mm²), {} transistors\n",
        c.area.total(), c.width_mm, c.height_mm, p.reticle_mm2, billions(c.transistors.total()));
    area_line(out, c.area);
    out += fmt::format("  transistors ROM {}, logic {} (tile datapaths {}), SRAM {}\n",
                       billions(c.transistors.rom), billions(c.transistors.logic),
                       billions(c.transistors.datapath), billions(c.transistors.sram));
  } else {
    out += fmt::format(
        "Chips        {} (the model needs {:.0f} mm², the reticle allows {:.0f} mm² per die)\n",
        p.chip_count(), p.area.total(), p.reticle_mm2);
    for (const auto& c : p.chips) {
      std::string what = fmt::format("layers {}-{}", c.first_layer, c.end_layer - 1);
      if (c.end_layer == c.first_layer) what = "no layers";
      if (c.embedding) what = "embedding, " + what;
      if (c.head) what += ", head";
      out += fmt::format("  chip {:<3} {:>5.0f} mm², {:>6} transistors, {:>5.0f} W  ({})\n",
                         c.index, c.area.total(), billions(c.transistors.total()), c.power_w, what);
    }
    area_line(out, p.area);
    out += fmt::format("  transistors ROM {}, logic {} (tile datapaths {}), SRAM {} (all chips)\n",
                       billions(p.transistors.rom), billions(p.transistors.logic),
                       billions(p.transistors.datapath), billions(p.transistors.sram));
  }

  out += fmt::format("\nTiming       clock {:.2f} GHz; {} cycles per matrix-vector product\n",
                     t.clock_hz / 1e9, t.rom_rows);
  out += fmt::format("  {} cycles per layer, {} per token", t.cycles_per_layer, t.cycles_per_token);
  if (p.chip_count() > 1)
    out += fmt::format(", plus {} chip-to-chip hops ({:.2f} µs)", p.chip_count() - 1,
                       t.link_latency_s * 1e6);
  out += "\n";
  out +=
      fmt::format("  per user   {} tokens/s ({:.1f} µs per token; {:.1f} ms per {}+{} request)\n",
                  grouped(t.tokens_per_second_per_user), t.latency_s * 1e6, t.request_seconds * 1e3,
                  in.prompt_tokens, in.answer_tokens);
  out += fmt::format("  users      {} at {} tokens ({} pipeline stages); aggregate {} tokens/s\n",
                     t.users_max, in.context, t.pipeline_stages,
                     grouped(t.tokens_per_second_aggregate));

  const auto& w = p.power;
  const std::string load =
      fmt::format("{} user{} in flight of {} pipeline stages", t.users_in_flight,
                  t.users_in_flight == 1 ? "" : "s", t.pipeline_stages);
  const double n = p.chip_count();
  out += fmt::format("\nPower        at {}\n", load);
  out += fmt::format(
      "  chip       {:.0f} W (dynamic {:.1f}, clock tree and wires {:.1f}, leakage {:.1f}, I/O "
      "{:.1f})\n",
      w.chip_w, w.dynamic_w / n, w.clock_w / n, w.leakage_w / n, w.io_w / n);
  out += fmt::format(
      "  card       {:.0f} W (chip through its regulators, board); {:.0f} W per card as deployed "
      "(host share {:.0f} W)\n",
      w.card_w, w.power_w, w.power_w - w.card_w);
  out += fmt::format(
      "  energy     {:.2f} mJ per token, {:.0f} tokens per joule (as deployed, at {})\n",
      w.energy_per_token_j * 1e3, w.tokens_per_joule, load);

  const auto& r = p.ranges;
  out +=
      "\nRanges       low / expected / high over the estimates' ranges, the model's chips and "
      "cards together (docs/planner.md)\n";
  const auto range = [&](const char* what, const FigureRange& f, const auto& show) {
    out +=
        fmt::format("  {:<22} {} / {} / {}\n", what, show(f.low), show(f.expected), show(f.high));
  };
  const auto mm2 = [](double x) { return fmt::format("{:.0f} mm²", x); };
  const auto count = [](double x) { return grouped(x); };
  const auto watts = [](double x) { return fmt::format("{:.0f} W", x); };
  range("silicon", r.area_mm2, mm2);
  range("transistors", r.transistors, billions);
  range("chips", r.chips, count);
  range("tokens/s per user", r.tokens_per_second_per_user, count);
  range("tokens/s aggregate", r.tokens_per_second_aggregate, count);
  range("cards", r.cards_w, watts);
  range("cards as deployed", r.deployed_w, watts);
  range("energy per token", r.energy_per_token_j,
        [](double j) { return fmt::format("{:.2f} mJ", j * 1e3); });

  const auto& c = p.cost;
  out += fmt::format(
      "\nCost         wafer {}, {:.0f} dies per wafer, yield {:.0f}%, {} per good die\n",
      money(c.wafer_usd), c.dies_per_wafer, c.yield * 100, money(c.die_usd));
  out += fmt::format("  card {}, system {} ({} card{} and host share); model masks (NRE) {}\n",
                     money(c.card_usd), money(c.system_usd), p.chip_count(),
                     p.chip_count() == 1 ? "" : "s", money(c.mask_nre_usd));
  out += fmt::format("  {} per million tokens (3-year life, 50% utilisation, at {})\n",
                     money(c.per_million_tokens_usd), load);

  out += "\nGPUs         same model, roofline (80% of memory bandwidth, 60% of peak FLOPS)\n";
  out += fmt::format("  {:<5} {:<6} {:>4} {:>10} {:>6} {:>10} {:>9} {:>9}   {:>8} {:>15} {:>15}\n",
                     "GPU", "format", "GPUs", "tok/s/user", "batch", "tok/s", "mJ/token", "$/Mtok",
                     "x faster", "x energy", "x cost");
  const auto both = [](double same, double best) {
    return fmt::format("{:.1f} / {:.1f}", same, best);
  };
  for (const auto& g : p.gpus)
    out += fmt::format(
        "  {:<5} {:<6} {:>4} {:>10} {:>6} {:>10} {:>9.2f} {:>9.4f}   {:>8.1f} {:>15} {:>15}\n",
        g.gpu, g.format, g.gpus, grouped(g.tokens_per_second_user), g.batch,
        grouped(g.tokens_per_second_aggregate), g.energy_per_token_j * 1e3,
        g.per_million_tokens_usd, g.chip_speedup_per_user,
        both(g.chip_energy_advantage_same_users, g.chip_energy_advantage),
        both(g.chip_cost_advantage_same_users, g.chip_cost_advantage));
  out += fmt::format(
      "  tok/s, mJ/token, $/Mtok: the GPU at its best throughput (batch). x faster: per user; x "
      "energy, x cost: GPU J/token and $/Mtok over the chip's, with the GPU at the chip's {} "
      "user{} / at its batch (the chip at its plan's load)\n",
      t.users_in_flight, t.users_in_flight == 1 ? "" : "s");
  return out;
}

}  // namespace etch::plan
