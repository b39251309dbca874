// The planner: calibration against the first hardwired-model chip, the properties users rely
// on, each sub-model on its own, and the JSON and SVG outputs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <string>

#include "core/error.hpp"
#include "plan/model.hpp"
#include "plan/plan.hpp"

namespace etch::plan {
namespace {

PlanInput input(const std::string& preset, int node = 6) {
  PlanInput in;
  in.model = find_preset(preset);
  in.node_nm = node;
  return in;
}

void expect_within(double value, double target, double tolerance, const char* what) {
  EXPECT_NEAR(value / target, 1.0, tolerance) << what << ": " << value << " vs " << target;
}

// The public figures of the first hardwired-model chip: Llama 3.1 8B on one 815 mm² die
// at 6 nm, 53 B transistors, about 17,000 tokens/s per user (1k prompt, 1k answer),
// 200-250 W per card.
TEST(PlanCalibration, Llama31_8bAt6nmMatchesTheFirstHardwiredChip) {
  const Plan p = make_plan(input("llama-3.1-8b"));
  ASSERT_EQ(p.chip_count(), 1);
  expect_within(p.die_area_mm2(), 815, 0.15, "die area");
  expect_within(p.die_transistors(), 53e9, 0.15, "transistors");
  expect_within(p.timing.tokens_per_second_per_user, 17000, 0.15, "tokens/s per user");
  EXPECT_GE(p.power.power_w, 200 * 0.85);
  EXPECT_LE(p.power.power_w, 250 * 1.15);
  EXPECT_LE(p.rom_bits_per_weight, 3.5);
  EXPECT_GT(p.rom_bits_per_weight, 3.3);
}

TEST(PlanProperties, MoreBitsPerWeightNeedMoreRom) {
  double previous = 0;
  for (double bpw : {2.5, 3.0, 3.5, 4.5, 6.5, 8.0}) {
    PlanInput in = input("llama-3.2-1b");
    in.recipe = recipe_for_bpw(bpw);
    const Plan p = make_plan(in);
    EXPECT_NEAR(p.rom_bits_per_weight / bpw, 1, 0.05);  // level tables: 2048-long rows here
    EXPECT_GT(p.area.rom, previous) << bpw;
    previous = p.area.rom;
  }
}

TEST(PlanProperties, LongerContextLeavesFewerUsers) {
  PlanInput in = input("llama-3.2-1b");
  in.kv_tokens = 64 * 1024;  // one chip's KV SRAM
  int64_t previous = INT64_MAX;
  for (int64_t context : {1024, 2048, 4096, 8192, 16384}) {
    in.context = context;
    const Plan p = make_plan(in);
    EXPECT_LT(p.timing.users_max, previous) << context;
    previous = p.timing.users_max;
  }
  EXPECT_EQ(previous, 4);
}

TEST(PlanProperties, SmallerNodeNeedsLessAreaPerBit) {
  double previous = 1e9;
  for (int node : {28, 16, 7, 5, 3}) {
    const Plan p = make_plan(input("smollm2-135m", node));
    const double rom_per_bit = p.area.rom / p.transistors.rom;
    const double sram_per_bit = p.area.kv_sram / (p.transistors.sram / 6);
    EXPECT_LT(rom_per_bit, previous) << node;
    EXPECT_GT(sram_per_bit, 0);
    previous = rom_per_bit;
  }
}

TEST(PlanProperties, ModelsAboveTheReticleSpanSeveralChips) {
  const Plan big = make_plan(input("llama-3.1-405b"));
  EXPECT_GT(big.chip_count(), 1);
  for (const auto& c : big.chips) EXPECT_LE(c.area.total(), big.reticle_mm2);
  // Every layer is on exactly one chip, in order.
  int64_t next = 0;
  for (const auto& c : big.chips) {
    if (c.end_layer == c.first_layer) continue;
    EXPECT_EQ(c.first_layer, next);
    next = c.end_layer;
  }
  EXPECT_EQ(next, 126);
  EXPECT_TRUE(big.chips.front().embedding);
  EXPECT_TRUE(big.chips.back().head);
  EXPECT_GT(big.timing.link_latency_s, 0);
  EXPECT_EQ(make_plan(input("llama-3.2-1b")).chip_count(), 1);
}

TEST(PlanProperties, EveryPresetPlansAtEveryNode) {
  for (const auto& shape : presets()) {
    for (int node : node_names()) {
      PlanInput in;
      in.model = shape;
      in.node_nm = node;
      const Plan p = make_plan(in);
      EXPECT_GT(p.die_area_mm2(), 0) << shape.name << " " << node;
      EXPECT_LE(p.die_area_mm2(), p.reticle_mm2) << shape.name << " " << node;
      EXPECT_GT(p.timing.tokens_per_second_per_user, 0);
      EXPECT_GT(p.power.energy_per_token_j, 0);
      EXPECT_GT(p.cost.per_million_tokens_usd, 0);
      EXPECT_EQ(p.gpus.size(), 9u);
    }
  }
}

TEST(PlanShapes, PresetsHaveTheirPublishedParameterCounts) {
  EXPECT_NEAR(find_preset("llama-3.1-8b").total_params() / 1e9, 8.03, 0.01);
  EXPECT_NEAR(find_preset("llama-3.2-1b").total_params() / 1e9, 1.24, 0.01);
  EXPECT_NEAR(find_preset("llama-3.2-3b").total_params() / 1e9, 3.21, 0.01);
  EXPECT_NEAR(find_preset("llama-3.1-70b").total_params() / 1e9, 70.55, 0.05);
  EXPECT_NEAR(find_preset("llama-3.1-405b").total_params() / 1e9, 405.85, 0.5);
  EXPECT_NEAR(find_preset("mistral-7b").total_params() / 1e9, 7.24, 0.01);
  EXPECT_NEAR(find_preset("qwen2.5-7b").total_params() / 1e9, 7.62, 0.02);
  EXPECT_NEAR(find_preset("smollm2-135m").total_params() / 1e6, 134.5, 0.5);
  EXPECT_NEAR(find_preset("smollm2-1.7b").total_params() / 1e9, 1.71, 0.01);
  EXPECT_NEAR(find_preset("tinyllama-1.1b").total_params() / 1e9, 1.10, 0.01);
  EXPECT_NEAR(find_preset("gpt-oss-120b").total_params() / 1e9, 116.8, 0.5);
  EXPECT_NEAR(find_preset("gpt-oss-120b").active_params() / 1e9, 5.1, 0.1);
  EXPECT_THROW(find_preset("llama-9"), Error);
}

TEST(PlanRecipes, BitsPerWeightCountCodesLevelsAndScales) {
  // 3-bit codes, an 8-bit scale per 64 and an 8-level table of 8 bits per 4096-long row.
  EXPECT_NEAR(find_recipe("hc3").rom_bits_per_weight(4096), 3 + 8.0 / 64 + 64.0 / 4096, 1e-12);
  EXPECT_NEAR(find_recipe("fp4").rom_bits_per_weight(4096), 4.25, 1e-12);
  EXPECT_NEAR(find_recipe("int8").rom_bits_per_weight(4096), 8 + 16.0 / 4096, 1e-12);
  const double hc1 = find_recipe("hc1").rom_bits_per_weight(4096);
  EXPECT_LE(hc1, 3.5);
  EXPECT_GT(hc1, find_recipe("hc3").rom_bits_per_weight(4096));
  EXPECT_THROW(find_recipe("hc9"), Error);
  EXPECT_THROW(recipe_for_bpw(1.0), Error);
}

TEST(PlanArea, RomAreaIsBitsTimesTheCell) {
  const Plan p = make_plan(input("llama-3.1-8b"));
  const auto& n = detail::find_node(6);
  const double cell_um2 = n.cpp_nm * detail::kRomCellPitches * n.mp_nm * 1e-6;
  EXPECT_NEAR(p.area.rom, p.transistors.rom * cell_um2 / detail::kRomArrayEfficiency * 1e-6, 1e-6);
  // ROM bits: every weight (embedding and head untied) at the recipe's bits.
  EXPECT_NEAR(p.transistors.rom / 8.03e9, p.rom_bits_per_weight, 0.02);
  const double sum = p.area.rom + p.area.compute + p.area.kv_sram + p.area.sram + p.area.io;
  EXPECT_NEAR(p.area.overhead, sum * detail::kOverheadFraction, 1e-6);
}

TEST(PlanArea, KvSramGrowsWithUsersAndContext) {
  PlanInput in = input("llama-3.2-1b");
  const double one = make_plan(in).area.kv_sram;
  in.users = 4;
  EXPECT_NEAR(make_plan(in).area.kv_sram / one, 4, 1e-9);
  in.users = 1;
  in.context = 4096;
  EXPECT_NEAR(make_plan(in).area.kv_sram / one, 2, 1e-9);
}

TEST(PlanTiming, CyclesFollowTheRomDepthAndTheClock) {
  const Plan p = make_plan(input("llama-3.1-8b"));
  const auto& t = p.timing;
  EXPECT_EQ(t.rom_rows, detail::kRomRows);
  EXPECT_GT(t.cycles_per_layer, 4 * detail::kRomRows);  // four matrix products in series
  EXPECT_EQ(t.clock_hz, detail::find_node(6).clock_ghz * 1e9);
  EXPECT_NEAR(t.tokens_per_second_per_user, t.clock_hz / t.cycles_per_token, 1e-6);
  EXPECT_EQ(t.pipeline_stages, 5 * 32 + 1);
  EXPECT_NEAR(t.tokens_per_second_aggregate, t.users_in_flight * t.tokens_per_second_per_user,
              1e-6);
  EXPECT_GT(t.request_seconds, 1024 * t.latency_s);
  // More users in flight multiply the aggregate, not the per-user rate.
  PlanInput in = input("llama-3.1-8b");
  in.context = 512;
  in.users = 4;
  const Plan four = make_plan(in);
  EXPECT_EQ(four.timing.users_in_flight, 4);
}

TEST(PlanPower, EnergyAndLeakageAddUp) {
  PlanInput in = input("llama-3.2-1b");
  const Plan one = make_plan(in);
  in.users = 8;
  const Plan eight = make_plan(in);
  EXPECT_GT(eight.power.dynamic_w, 7 * one.power.dynamic_w);
  const auto& w = one.power;
  EXPECT_NEAR(w.chip_w, w.dynamic_w + w.leakage_w + w.io_w, 1e-9);
  EXPECT_NEAR(w.card_w, w.chip_w / detail::kRegulatorEfficiency + detail::kBoardW, 1e-9);
  EXPECT_NEAR(w.energy_per_token_j * one.timing.tokens_per_second_aggregate, w.total_w, 1e-6);
  // A smaller node spends less energy on the same token.
  const auto e28 = detail::energies(detail::find_node(28));
  const auto e5 = detail::energies(detail::find_node(5));
  EXPECT_GT(e28.rom_bit, e5.rom_bit);
  EXPECT_GT(e28.slice, e5.slice);
}

TEST(PlanCost, YieldFallsWithAreaAndCostsAddUp) {
  const Plan small = make_plan(input("smollm2-135m"));
  const Plan large = make_plan(input("llama-3.1-8b"));
  EXPECT_GT(small.cost.yield, large.cost.yield);
  EXPECT_GT(small.cost.dies_per_wafer, large.cost.dies_per_wafer);
  EXPECT_NEAR(large.cost.die_usd,
              large.cost.wafer_usd / (large.cost.dies_per_wafer * large.cost.yield), 1e-6);
  EXPECT_GT(large.cost.card_usd, large.cost.die_usd);
  EXPECT_EQ(large.cost.mask_nre_usd, 2 * detail::find_node(6).via_mask_usd);
}

TEST(PlanGpu, RooflineFollowsBandwidth) {
  const Plan p = make_plan(input("llama-3.1-8b"));
  ASSERT_EQ(p.gpus.size(), 9u);
  const auto find = [&](const char* gpu, const char* format) {
    for (const auto& g : p.gpus)
      if (g.gpu == gpu && g.format == format) return g;
    ADD_FAILURE() << gpu << " " << format;
    return GpuComparison{};
  };
  // bf16 8B on one H100: 16 GB at 80% of 3.35 TB/s, about 170 tokens/s.
  EXPECT_NEAR(find("H100", "bf16").tokens_per_second_user, 170, 15);
  EXPECT_NEAR(
      find("H200", "bf16").tokens_per_second_user / find("H100", "bf16").tokens_per_second_user,
      4.8 / 3.35, 0.05);
  EXPECT_GT(find("B200", "4-bit").tokens_per_second_user,
            find("B200", "fp8").tokens_per_second_user);
  for (const auto& g : p.gpus) {
    EXPECT_GT(g.tokens_per_second_aggregate, g.tokens_per_second_user);
    EXPECT_NEAR(g.chip_speedup_per_user,
                p.timing.tokens_per_second_per_user / g.tokens_per_second_user, 1e-9);
  }
  // 405B at bf16 needs several GPUs.
  const Plan big = make_plan(input("llama-3.1-405b"));
  for (const auto& g : big.gpus)
    if (g.format == "bf16") EXPECT_GE(g.gpus, 5);
}

TEST(PlanJson, HasTheIssueKeys) {
  const auto j = nlohmann::json::parse(render_json(make_plan(input("llama-3.1-8b"))));
  for (const char* key : {"die_area_mm2", "transistors", "tokens_per_second_per_user", "power_w",
                          "chips", "clock_hz", "users_max", "energy_per_token_j",
                          "cost_per_million_tokens_usd", "area_breakdown", "gpu_comparison"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["chips"], 1);
  EXPECT_EQ(j["gpu_comparison"].size(), 9u);
  EXPECT_TRUE(j["area_breakdown"].contains("rom_mm2"));
  // Several chips: the top-level figures are per chip.
  const Plan big = make_plan(input("llama-3.1-405b"));
  const auto jb = nlohmann::json::parse(render_json(big));
  EXPECT_EQ(jb["chips"], big.chip_count());
  EXPECT_LE(jb["die_area_mm2"].get<double>(), big.reticle_mm2);
}

// A small well-formedness check: tags nest and close, attributes are quoted, no stray '&'.
bool well_formed_xml(const std::string& s, std::string& why) {
  std::vector<std::string> stack;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '&') {
      const size_t semi = s.find(';', i);
      const std::string entity = s.substr(i, semi == std::string::npos ? 0 : semi - i + 1);
      if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;") {
        why = "bad entity at " + std::to_string(i);
        return false;
      }
      continue;
    }
    if (s[i] != '<') continue;
    const size_t end = s.find('>', i);
    if (end == std::string::npos) return why = "unclosed tag", false;
    std::string tag = s.substr(i + 1, end - i - 1);
    i = end;
    if (tag.empty()) return why = "empty tag", false;
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1))
        return why = "mismatched </" + tag + ">", false;
      stack.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    const std::string name = tag.substr(0, tag.find_first_of(" /"));
    size_t quotes = 0;
    for (char c : tag) quotes += c == '"';
    if (quotes % 2 != 0) return why = "unbalanced quotes in <" + name + ">", false;
    if (!self_closing) stack.push_back(name);
  }
  if (!stack.empty()) return why = "unclosed <" + stack.back() + ">", false;
  return true;
}

TEST(PlanSvg, FloorplanIsWellFormedAndToScale) {
  const Plan p = make_plan(input("llama-3.1-8b"));
  const std::string svg = render_svg(p);
  std::string why;
  EXPECT_TRUE(well_formed_xml(svg, why)) << why;
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("L31"), std::string::npos);  // every layer drawn
  EXPECT_NE(svg.find("head"), std::string::npos);
  const Plan big = make_plan(input("llama-3.1-405b"));
  EXPECT_TRUE(well_formed_xml(render_svg(big), why)) << why;
}

TEST(PlanSweep, VariesOneParameter) {
  PlanInput in = input("llama-3.2-1b");
  const Sweep nodes = run_sweep(in, "node=28,7,3");
  ASSERT_EQ(nodes.plans.size(), 3u);
  EXPECT_GT(nodes.plans[0].die_area_mm2(), nodes.plans[2].die_area_mm2());
  const Sweep ctx = run_sweep(in, "context=512,1024,2048");
  EXPECT_EQ(ctx.plans[0].timing.users_max, 4);
  EXPECT_EQ(ctx.plans[2].timing.users_max, 1);
  std::string why;
  EXPECT_TRUE(well_formed_xml(render_sweep_svg(ctx), why)) << why;
  EXPECT_NE(render_sweep_text(ctx).find("users"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(render_sweep_json(ctx))["points"].size(), 3u);
  EXPECT_THROW(run_sweep(in, "clock=1,2"), Error);
  EXPECT_THROW(run_sweep(in, "node=4"), Error);
  EXPECT_THROW(run_sweep(in, "context=0"), Error);
  EXPECT_THROW(run_sweep(in, "bpw"), Error);
}

TEST(PlanInputs, RejectsNonsense) {
  PlanInput in = input("llama-3.2-1b");
  in.context = 0;
  EXPECT_THROW(make_plan(in), Error);
  in = input("llama-3.2-1b", 4);
  EXPECT_THROW(make_plan(in), Error);
}

}  // namespace
}  // namespace etch::plan
