// etch rtl: the chip of a .etch model in SystemVerilog, optionally co-simulated against the
// integer engine (src/rtl, docs/rtl.md).
#include <fmt/format.h>

#include <cstdio>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "compile/compile.hpp"
#include "core/error.hpp"
#include "rtl/rtl.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::cli {

namespace {

struct RtlOptions {
  std::string model;
  std::string out;
  rtl::DesignOptions design;
  bool verify = false;
  PromptOptions prompt;
  int64_t generate = 4;
  bool json = false;
};

void run_rtl(const RtlOptions& o) {
  if (!compile::is_etch_file(o.model))
    fail_file(o.model, "is not a .etch file (etch build makes one)");
  const compile::EtchModel model = compile::read_etch(o.model);
  const bool has_prompt = !o.prompt.ids.empty() || !o.prompt.text.empty() || !o.prompt.file.empty();
  if (has_prompt != o.verify)
    fail("rtl: --verify and a prompt (--prompt-ids, -p or -f) go together");
  std::vector<int32_t> prompt;
  rtl::DesignOptions design_options = o.design;
  if (o.verify) {
    const tokenize::Tokenizer tokenizer(model.vocab);
    prompt = prompt_tokens(o.prompt, tokenizer, model.vocab.add_bos);
    // The design's context defaults to what the check needs: the prompt and the tokens fed back.
    if (design_options.context == 0)
      design_options.context = static_cast<int64_t>(prompt.size()) + o.generate - 1;
  }
  const rtl::Design design = rtl::write_design(model, o.out, design_options);
  fmt::print(stderr, "etch: wrote {} files of {} to {}\n", design.files.size(), design.top, o.out);
  if (!o.verify) return;

  rtl::CosimOptions cosim;
  cosim.prompt = prompt;
  cosim.generate = o.generate;
  cosim.log = [](const std::string& line) { fmt::print(stderr, "etch: {}\n", line); };
  const rtl::CosimResult r = rtl::cosimulate(model, o.out, design, cosim);
  if (o.json) {
    print_json({{"bit_exact", r.bit_exact},
                {"tokens", r.tokens},
                {"generated_ids", r.generated_ids},
                {"cycles_per_token", r.cycles_per_token},
                {"top", design.top},
                {"build_seconds", r.build_seconds},
                {"simulation_seconds", r.simulation_seconds},
                {"mismatch", r.mismatch}});
  } else {
    std::string ids;
    for (int32_t id : r.generated_ids) ids += fmt::format("{} ", id);
    fmt::print("{}: {} tokens, generated {}\n", r.bit_exact ? "bit-exact" : "MISMATCH", r.tokens,
               ids);
    fmt::print("cycles/token {:.0f}, build {:.1f} s, simulation {:.1f} s\n", r.cycles_per_token,
               r.build_seconds, r.simulation_seconds);
  }
  if (!r.bit_exact) fail("rtl: the RTL differs from the integer engine: {}", r.mismatch);
}

}  // namespace

void add_rtl_command(CLI::App& app) {
  auto options = std::make_shared<RtlOptions>();
  auto* cmd = app.add_subcommand(
      "rtl", "Write the chip of a .etch model as SystemVerilog; --verify co-simulates it");
  cmd->add_option("model", options->model, "The .etch model")->required();
  cmd->add_option("-o,--output", options->out, "Folder for the design")->required();
  add_count_option(*cmd, "--tile-rows", options->design.tile_rows,
                   "Rows per tile (a power of two dividing 64; fewer simulate faster)", 1, 64);
  add_count_option(*cmd, "--tiles", options->design.tiles,
                   "Tiles side by side per weight format (0: the planner's tiling)", 0, 64);
  add_count_option(*cmd, "--lanes", options->design.lanes,
                   "Product rows out per cycle, dividing the block's rows (0: all of them)", 0,
                   4096);
  add_count_option(*cmd, "--element-lanes", options->design.element_lanes,
                   "Elements per cycle of the element-wise steps (quantizer, norm, RoPE, SwiGLU)",
                   1, rtl::kMaxElementLanes);
  add_count_option(*cmd, "--int8-group", options->design.int8_group,
                   "Columns per group of int8 matrices (a power of two up to 256)", 1, 256);
  add_count_option(*cmd, "--context", options->design.context,
                   "KV-cache positions (0: the prompt plus -n for --verify, else up to 2048)", 0,
                   kMaxTokens);
  cmd->add_flag("--verify", options->verify,
                "Build with Verilator and compare with the integer engine bit for bit");
  options->prompt.add_to(*cmd, true);
  add_count_option(*cmd, "-n,--tokens", options->generate, "Tokens to generate (--verify)", 1,
                   kMaxTokens);
  cmd->add_flag("--json", options->json, "Print the verification's result as JSON");
  cmd->callback([options] { run_rtl(*options); });
}

}  // namespace etch::cli
