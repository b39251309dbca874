// etch plan: the chip's power, performance, area and cost, and the same model on GPUs.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "compile/compile.hpp"
#include "core/error.hpp"
#include "core/output_file.hpp"
#include "import/import.hpp"
#include "plan/plan.hpp"

namespace etch::cli {

namespace {

struct PlanOptions {
  std::string model;
  std::string preset;
  int node = 6;
  std::string recipe;  // empty: hc1
  double bpw = 0;      // 0: the recipe's default budget
  int64_t context = 2048;
  int64_t users = 1;
  int64_t lora_rank = 0;
  std::string circuit = "digital-select";
  int64_t rom_bits_per_transistor = 1;
  bool json = false;
  bool sensitivity = false;
  std::string svg;
  std::string sweep;
  std::string synth;
};

void run_plan(const PlanOptions& o) {
  if (o.model.empty() == o.preset.empty()) fail("plan: give either MODEL or --preset NAME");
  if (!o.svg.empty()) check_output_path(o.svg, {o.model});
  plan::PlanInput in;
  const std::string recipe = o.recipe.empty() ? "hc1" : o.recipe;
  if (!o.preset.empty()) {
    in.model = plan::find_preset(o.preset);
    in.weights = plan::weights_for_recipe(in.model, recipe, o.bpw);
  } else if (compile::is_etch_file(o.model)) {
    if (!o.recipe.empty() || o.bpw != 0)
      fail(
          "plan: {} fixes every matrix's format; --recipe and --bpw apply to a preset or a "
          "GGUF/Hugging Face model",
          o.model);
    const compile::EtchModel etched = compile::read_etch(o.model);
    in.model = plan::shape_from_config(etched.config, o.model);
    in.weights = plan::weights_of_etch(etched);
    // Its folded adapter's SRAM is planned beside the KV cache (at the largest rank, on every
    // matrix, as --lora-rank plans) unless --lora-rank says otherwise.
    if (etched.adapter)
      for (const compile::SramLoraMatrix& m : etched.adapter->matrices)
        in.lora_rank = std::max(in.lora_rank, m.rank);
  } else {
    in.model = plan::shape_from_config(import::load_model(o.model).config, o.model);
    in.weights = plan::weights_for_recipe(in.model, recipe, o.bpw);
  }
  in.node_nm = o.node;
  in.context = o.context;
  in.users = o.users;
  if (o.lora_rank > 0) in.lora_rank = o.lora_rank;
  in.circuit = plan::find_circuit(o.circuit);
  in.rom_bits_per_transistor = static_cast<int>(o.rom_bits_per_transistor);
  if (!o.synth.empty()) in.synth = plan::read_synth_table(o.synth);
  in.prompt_tokens = std::min<int64_t>(in.prompt_tokens, o.context / 2);
  in.answer_tokens = std::min<int64_t>(in.answer_tokens, o.context - in.prompt_tokens);

  if (o.sensitivity) {
    if (!o.sweep.empty() || o.json || !o.svg.empty())
      fail("plan: --sensitivity prints a table of its own; drop --sweep, --json and --svg");
    fmt::print("{}", plan::render_sensitivity(in, plan::sensitivity(in)));
    return;
  }
  if (!o.sweep.empty()) {
    const auto sweep = plan::run_sweep(in, o.sweep);
    fmt::print("{}", o.json ? plan::render_sweep_json(sweep) : plan::render_sweep_text(sweep));
    if (!o.svg.empty()) write_file_atomically(o.svg, plan::render_sweep_svg(sweep));
    return;
  }
  const auto result = plan::make_plan(in);
  fmt::print("{}", o.json ? plan::render_json(result) : plan::render_text(result));
  if (!o.svg.empty()) write_file_atomically(o.svg, plan::render_svg(result));
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto options = std::make_shared<PlanOptions>();
  auto* cmd = app.add_subcommand(
      "plan", "Power, performance, area and cost of the model as a hardwired chip, vs GPUs");
  cmd->add_option("MODEL", options->model,
                  ".etch file (its formats and bits), or GGUF file or Hugging Face folder (its "
                  "shape, with --recipe)");
  cmd->add_option("--preset", options->preset, "a built-in model shape, e.g. llama-3.1-8b");
  cmd->add_option("--node", options->node, "process node in nm: 28, 16, 7, 6, 5, 3")
      ->capture_default_str();
  cmd->add_option("--recipe", options->recipe,
                  "recipe applied to the shape, as etch build's: hc1 (default), hc2..hc6, hc8, "
                  "int8, fp4");
  cmd->add_option("--bpw", options->bpw,
                  "hc1's budget in ROM bits per weight, as etch build's (default 3.5)")
      ->check(number_range(3.0, 8.0));
  add_count_option(*cmd, "--context", options->context, "tokens per user the KV cache holds", 1,
                   plan::kMaxContext);
  add_count_option(*cmd, "--users", options->users, "users the KV SRAM is sized for", 1,
                   plan::kMaxUsers);
  add_count_option(*cmd, "--lora-rank", options->lora_rank,
                   "rank of the LoRA adapters in SRAM (0: none)", 0, 1 << 16);
  cmd->add_option("--circuit", options->circuit,
                  "how a weight's code selects its product: digital-select (bit cells and a "
                  "selector per weight slot) or cell-select (one ROM cell per weight on a product "
                  "line, bit-serial)")
      ->capture_default_str();
  add_count_option(*cmd, "--rom-bits-per-transistor", options->rom_bits_per_transistor,
                   "bits one ROM transistor holds: 1 (one-bit cells) to 4 (multi-level cells)", 1,
                   plan::kMaxRomBitsPerTransistor);
  cmd->add_option("--synth", options->synth,
                  "count the tile datapaths from a Yosys synthesis table of the RTL tile "
                  "(src/plan/synth-table.json) instead of the hand-written circuits");
  cmd->add_flag("--json", options->json, "print the plan as JSON");
  cmd->add_flag("--sensitivity", options->sensitivity,
                "print how each figure moves when each engineering estimate is halved or doubled");
  cmd->add_option("--svg", options->svg,
                  "write the die floorplan (or, with --sweep, a chart) to FILE");
  cmd->add_option("--sweep", options->sweep,
                  "PARAM=v1,v2,... with PARAM node, bpw (hc1's budget), context or users")
      ->check(
          parsed_by([](const std::string& spec) { plan::parse_sweep(spec); }, "PARAM=v1,v2,..."));
  cmd->callback([options] { run_plan(*options); });
}

}  // namespace etch::cli
