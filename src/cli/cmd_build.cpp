#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "compile/compile.hpp"
#include "contract/contract.hpp"
#include "core/error.hpp"
#include "core/output_file.hpp"
#include "core/progress.hpp"
#include "run/pipeline.hpp"

namespace etch::cli {

namespace {

struct BuildCommandOptions {
  std::string model;
  std::vector<std::string> lora;
  std::string output;
  std::string recipe = "hc1";
  double bits_per_weight = 3.5;
  std::string calib;
  int64_t calib_tokens = 4096;
  int threads = 0;
  int64_t correct_rank = 0;
};

// hc1's loss probe runs the float model once per matrix over this many calibration tokens.
constexpr int64_t kProbeTokens = 1024;

std::vector<int32_t> calibration_text(const run::LoadedModel& loaded, const std::string& path) {
  const std::vector<int32_t> text = loaded.tokenizer().encode(read_file_text(path), false);
  if (text.empty()) fail_file(path, "calibration text has no tokens");
  return text;
}

compile::Calibration calibrate_on_text(const import::Model& model, std::span<const int32_t> text,
                                       int64_t budget, int threads) {
  std::optional<Progress> progress;
  compile::Calibration calibration =
      run::calibrate(model, text, budget, threads, [&](int64_t used, int64_t total) {
        if (!progress) progress.emplace("calibrate", total, "tokens");
        progress->update(used);
      });
  if (progress) progress->finish();
  return calibration;
}

void execute(const BuildCommandOptions& o) {
  // Refused before the model is loaded and calibrated.
  contract::find_recipe(o.recipe);
  check_output_path(o.output, {o.model});
  const auto start = std::chrono::steady_clock::now();
  const run::LoadedModel loaded = open_model(o.model, o.lora);
  const import::Model& model = loaded.float_model();
  import::check_finite(model, o.threads);
  std::optional<compile::Calibration> calibration;
  compile::BuildOptions options;
  if (!o.calib.empty()) {
    const std::vector<int32_t> text = calibration_text(loaded, o.calib);
    calibration = calibrate_on_text(model, text, o.calib_tokens, o.threads);
    if (contract::find_recipe(o.recipe).mixed)
      options.loss_probe =
          run::loss_probe(model, text, std::min(o.calib_tokens, kProbeTokens), o.threads);
  }
  options.recipe = o.recipe;
  options.bits_per_weight = o.bits_per_weight;
  options.calibration_name = o.calib;
  options.threads = o.threads;
  options.correct_rank = o.correct_rank;
  std::optional<compile::SramAdapter> adapter;
  if (!loaded.given_adapters().empty()) {
    const run::AdapterUse& use = loaded.given_adapters().front();
    adapter = compile::quantize_adapter(*use.adapter, use.scale);
    options.adapter = &*adapter;
  }
  std::optional<Progress> progress;
  options.on_progress = [&](int64_t done, int64_t total) {
    if (!progress) progress.emplace("quantize", total, "matrix passes");
    progress->update(done);
  };
  compile::build(model, calibration ? &*calibration : nullptr, options, o.output);
  if (progress) progress->finish();
  const compile::EtchModel etched = compile::read_etch(o.output);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(stderr, "etch: wrote {} ({}, {:.3f} bits per weight, {:.2f} MiB of ROM) in {:.1f}s\n",
             o.output, etched.recipe,
             static_cast<double>(etched.rom_bits()) / static_cast<double>(etched.parameters()),
             static_cast<double>(etched.rom_bits()) / 8 / (1 << 20), seconds);
}

}  // namespace

void add_build_command(CLI::App& app) {
  auto options = std::make_shared<BuildCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "build", "Quantize a model into the chip's numeric contract and write a .etch file");
  cmd->add_option("MODEL", options->model, "GGUF file or Hugging Face folder")->required();
  cmd->add_option("-o,--output", options->output, "The .etch file to write")->required();
  cmd->add_option("--recipe", options->recipe, "hc1 (3- to 6-bit mix), hc2..hc6, hc8, int8 or fp4")
      ->capture_default_str();
  cmd->add_option("--bpw", options->bits_per_weight, "hc1's budget in ROM bits per weight")
      ->check(number_range(3.0, 8.0))
      ->capture_default_str();
  cmd->add_option("--calib", options->calib,
                  "Calibration text (default: quantize from the weights alone)");
  add_count_option(*cmd, "--calib-tokens", options->calib_tokens, "Calibration tokens", 1,
                   int64_t{1} << 30);
  add_threads_option(*cmd, options->threads);
  CLI::Option* lora =
      add_lora_option(*cmd, options->lora)
          ->expected(1)
          ->description(
              "A default LoRA adapter FILE_OR_FOLDER[:SCALE] to fold into the .etch's SRAM (int8)");
  // The .etch format's largest adapter rank; a matrix narrower than R gets its full rank.
  add_count_option(*cmd, "--correct-rank", options->correct_rank,
                   "Rank of each layer matrix's correction of its quantization error, weighted by "
                   "the calibration inputs, held as the .etch's SRAM adapter (0: none)",
                   0, 65536)
      ->excludes(lora);
  cmd->callback([options] { execute(*options); });
}

}  // namespace etch::cli
