// The --json report: the top-level keys (per-chip figures where there are several
// chips), then the detail behind them.
#include "plan/render.hpp"

namespace etch::plan {

namespace {

nlohmann::json area_json(const Area& a) {
  return {{"rom_mm2", a.rom},      {"compute_mm2", a.compute}, {"kv_sram_mm2", a.kv_sram},
          {"sram_mm2", a.sram},    {"io_mm2", a.io},           {"overhead_mm2", a.overhead},
          {"total_mm2", a.total()}};
}

nlohmann::json transistors_json(const Transistors& t) {
  return {{"rom", t.rom},
          {"logic", t.logic},
          {"datapath", t.datapath},
          {"sram", t.sram},
          {"total", t.total()}};
}

nlohmann::json range_json(const FigureRange& f) {
  return {{"low", f.low}, {"expected", f.expected}, {"high", f.high}};
}

nlohmann::json ranges_json(const Plan& p) {
  const auto& r = p.ranges;
  return {{"total_area_mm2", range_json(r.area_mm2)},
          {"total_transistors", range_json(r.transistors)},
          {"chips", range_json(r.chips)},
          {"tokens_per_second_per_user", range_json(r.tokens_per_second_per_user)},
          {"tokens_per_second_aggregate", range_json(r.tokens_per_second_aggregate)},
          {"cards_w", range_json(r.cards_w)},
          {"total_w", range_json(r.deployed_w)},
          {"energy_per_token_j", range_json(r.energy_per_token_j)}};
}

nlohmann::json estimates_json(const Estimates& values) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& e : estimate_table())
    out[e.key] = {{"value", values.*e.member}, {"low", e.low}, {"high", e.high}};
  return out;
}

const Chip& largest(const Plan& p) {
  const Chip* best = &p.chips.front();
  for (const auto& c : p.chips)
    if (c.area.total() > best->area.total()) best = &c;
  return *best;
}

}  // namespace

nlohmann::json plan_json(const Plan& p) {
  const auto& in = p.input;
  const auto& t = p.timing;
  nlohmann::json gpus = nlohmann::json::array();
  for (const auto& g : p.gpus)
    gpus.push_back(
        {{"gpu", g.gpu},
         {"format", g.format},
         {"gpus", g.gpus},
         {"tokens_per_second_per_user", g.tokens_per_second_user},
         {"batch", g.batch},
         {"tokens_per_second_aggregate", g.tokens_per_second_aggregate},
         {"energy_per_token_j", g.energy_per_token_j},
         {"cost_per_million_tokens_usd", g.per_million_tokens_usd},
         {"same_users", g.same_users},
         {"same_users_tokens_per_second_aggregate", g.same_users_tokens_per_second_aggregate},
         {"same_users_energy_per_token_j", g.same_users_energy_per_token_j},
         {"same_users_cost_per_million_tokens_usd", g.same_users_per_million_tokens_usd},
         {"chip_speedup_per_user", g.chip_speedup_per_user},
         {"chip_energy_advantage_same_users", g.chip_energy_advantage_same_users},
         {"chip_cost_advantage_same_users", g.chip_cost_advantage_same_users},
         {"chip_energy_advantage", g.chip_energy_advantage},
         {"chip_cost_advantage", g.chip_cost_advantage}});
  nlohmann::json chips = nlohmann::json::array();
  for (const auto& c : p.chips)
    chips.push_back({{"index", c.index},
                     {"first_layer", c.first_layer},
                     {"end_layer", c.end_layer},
                     {"embedding", c.embedding},
                     {"head", c.head},
                     {"width_mm", c.width_mm},
                     {"height_mm", c.height_mm},
                     {"area", area_json(c.area)},
                     {"transistors", transistors_json(c.transistors)},
                     {"power_w", c.power_w}});
  const Chip& big = largest(p);
  return {
      {"model", in.model.name},
      {"parameters", in.model.total_params()},
      {"node_nm", in.node_nm},
      {"recipe", in.weights.label},
      {"circuit", circuit_name(in.circuit)},
      {"synth_table", in.synth ? nlohmann::json(in.synth->path) : nlohmann::json(nullptr)},
      {"rom_bits_per_transistor", in.rom_bits_per_transistor},
      {"rom_bits", p.rom_bits},
      {"bits_per_weight", p.bits_per_weight},
      {"context", in.context},
      {"lora_rank", in.lora_rank},
      {"die_area_mm2", big.area.total()},
      {"transistors", big.transistors.total()},
      {"tokens_per_second_per_user", t.tokens_per_second_per_user},
      {"tokens_per_second_aggregate", t.tokens_per_second_aggregate},
      {"power_w", p.power.power_w},
      {"chips", p.chip_count()},
      {"clock_hz", t.clock_hz},
      {"users_max", t.users_max},
      {"users_in_flight", t.users_in_flight},
      {"energy_per_token_j", p.power.energy_per_token_j},
      {"cost_per_million_tokens_usd", p.cost.per_million_tokens_usd},
      {"area_breakdown", area_json(big.area)},
      {"gpu_comparison", gpus},
      {"timing",
       {{"rom_rows", t.rom_rows},
        {"cycles_per_layer", t.cycles_per_layer},
        {"cycles_per_token", t.cycles_per_token},
        {"pipeline_stages", t.pipeline_stages},
        {"link_latency_s", t.link_latency_s},
        {"latency_s", t.latency_s},
        {"request_seconds", t.request_seconds},
        {"kv_tokens", t.kv_tokens},
        {"users_in_flight", t.users_in_flight}}},
      {"ranges", ranges_json(p)},
      {"estimates", estimates_json(in.estimates)},
      {"power",
       {{"chip_w", p.power.chip_w},
        {"card_w", p.power.card_w},
        {"deployed_w", p.power.power_w},
        {"dynamic_w", p.power.dynamic_w},
        {"clock_w", p.power.clock_w},
        {"leakage_w", p.power.leakage_w},
        {"io_w", p.power.io_w},
        {"total_w", p.power.total_w},
        {"tokens_per_joule", p.power.tokens_per_joule}}},
      {"cost",
       {{"wafer_usd", p.cost.wafer_usd},
        {"dies_per_wafer", p.cost.dies_per_wafer},
        {"yield", p.cost.yield},
        {"die_usd", p.cost.die_usd},
        {"card_usd", p.cost.card_usd},
        {"system_usd", p.cost.system_usd},
        {"mask_nre_usd", p.cost.mask_nre_usd}}},
      {"total_area_mm2", p.area.total()},
      {"total_transistors", p.transistors.total()},
      {"chip_list", chips},
  };
}

std::string render_json(const Plan& p) {
  // Replaced, not refused: a model path need not be UTF-8.
  return plan_json(p).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace etch::plan
