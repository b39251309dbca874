#include <fmt/format.h>
#include <fmt/ranges.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "compile/compile.hpp"

namespace etch::cli {

namespace {

struct InfoOptions {
  std::string model;
  bool json = false;
  bool metadata = false;
};

const char* rope_layout_name(import::RopeLayout layout) {
  return layout == import::RopeLayout::kInterleaved ? "interleaved" : "half-split";
}

const char* rope_scaling_name(import::RopeScaling scaling) {
  switch (scaling) {
    case import::RopeScaling::kLinear:
      return "linear";
    case import::RopeScaling::kLlama3:
      return "llama3";
    case import::RopeScaling::kNone:
      break;
  }
  return "none";
}

const char* tokenizer_kind_name(tokenize::TokenizerKind kind) {
  return kind == tokenize::TokenizerKind::kSentencePiece ? "sentencepiece" : "byte-level-bpe";
}

nlohmann::json to_json(const import::Model& m, uint64_t parameters, uint64_t bytes) {
  const auto& c = m.config;
  nlohmann::json config = {{"architecture", c.architecture},
                           {"vocab_size", c.vocab_size},
                           {"hidden_size", c.hidden_size},
                           {"layers", c.layers},
                           {"heads", c.heads},
                           {"kv_heads", c.kv_heads},
                           {"head_dim", c.head_dim},
                           {"ffn_size", c.ffn_size},
                           {"context_length", c.context_length},
                           {"rms_eps", c.rms_eps},
                           {"tied_embeddings", c.tied_embeddings},
                           {"qkv_bias", c.qkv_bias}};
  config["rope"] = {{"theta", c.rope.theta},
                    {"layout", rope_layout_name(c.rope.layout)},
                    {"scaling", rope_scaling_name(c.rope.scaling)},
                    {"factor", c.rope.factor},
                    {"low_freq_factor", c.rope.low_freq_factor},
                    {"high_freq_factor", c.rope.high_freq_factor},
                    {"original_context", c.rope.original_context},
                    {"dims", c.rope.dims},
                    {"freq_factors", c.rope.freq_factors.size()}};
  const auto& v = m.vocab;
  nlohmann::json tokenizer = {{"kind", tokenizer_kind_name(v.kind)},
                              {"tokens", v.size()},
                              {"bos_id", v.bos_id},
                              {"eos_id", v.eos_id},
                              {"unk_id", v.unk_id},
                              {"add_bos", v.add_bos},
                              {"add_eos", v.add_eos},
                              {"add_space_prefix", v.add_space_prefix},
                              {"merges", v.merges.size()},
                              {"pre_tokenizer", v.pre_tokenizer}};
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : m.tensors)
    tensors.push_back({{"name", t.name},
                       {"type", import::type_traits(t.type).name},
                       {"shape", t.shape},
                       {"bytes", t.bytes}});
  nlohmann::json metadata = nlohmann::json::object();
  for (const auto& [key, value] : m.metadata) metadata[key] = value;
  return {{"path", m.path},           {"format", m.format},    {"config", config},
          {"parameters", parameters}, {"tensor_bytes", bytes}, {"tokenizer", tokenizer},
          {"tensors", tensors},       {"metadata", metadata}};
}

// A .etch file: its numeric contract, the ROM and SRAM it needs, every matrix's format.
void execute_etch(const InfoOptions& o) {
  const compile::EtchModel m = compile::read_etch(o.model);
  const uint64_t params = m.parameters(), rom = m.rom_bits();
  const int64_t context = m.config.context_length > 0 ? m.config.context_length : m.rope_positions;
  const double bpw = static_cast<double>(rom) / static_cast<double>(params);
  if (o.json) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& t : m.matrices)
      tensors.push_back({{"name", t.name},
                         {"format", contract::format_name(t.format)},
                         {"bits", t.bits},
                         {"group", t.group},
                         {"multiplier_bits", t.multiplier_bits},
                         {"shape", {t.rows, t.cols}},
                         {"rom_bits", t.rom_bits()},
                         {"bits_per_weight", static_cast<double>(t.rom_bits()) /
                                                 static_cast<double>(t.rows * t.cols)}});
    const nlohmann::json out = {{"path", m.path},
                                {"format", "etch"},
                                {"contract_version", m.contract_version},
                                {"recipe", m.recipe},
                                {"calibration", m.calibration},
                                {"parameters", params},
                                {"rom_bits", rom},
                                {"bits_per_weight", bpw},
                                {"sram_context", context},
                                {"sram_bytes", m.sram_bytes(context)},
                                {"tensors", tensors}};
    print_json(out);
    return;
  }
  const auto& c = m.config;
  fmt::print("model       {} (.etch, numeric contract v{})\n", m.path, m.contract_version);
  fmt::print("arch        {}: {} layers, hidden {}, ffn {}, {} heads ({} key/value), head dim {}\n",
             c.architecture, c.layers, c.hidden_size, c.ffn_size, c.heads, c.kv_heads, c.head_dim);
  fmt::print("recipe      {}\n", m.recipe);
  fmt::print("calibration {}\n", m.calibration);
  fmt::print("weights     {} parameters, {} ROM bits ({:.3f} bits per weight, {:.2f} MiB)\n",
             params, rom, bpw, static_cast<double>(rom) / 8 / (1 << 20));
  fmt::print("sram        {} bytes at a {}-token context (KV cache int16, norms, RoPE tables)\n",
             m.sram_bytes(context), context);
  for (const auto& t : m.matrices)
    fmt::print("  {:<24} {:<4} {}-bit group {:<4} [{}, {}] {:.3f} bits/weight\n", t.name,
               contract::format_name(t.format), t.bits, t.group, t.rows, t.cols,
               static_cast<double>(t.rom_bits()) / static_cast<double>(t.rows * t.cols));
}

void execute(const InfoOptions& o) {
  if (compile::is_etch_file(o.model)) return execute_etch(o);
  const import::Model m = import::load_model(o.model);
  uint64_t parameters = 0, bytes = 0;
  for (const auto& t : m.tensors) {
    parameters += static_cast<uint64_t>(t.elements());
    bytes += t.bytes;
  }
  if (o.json) {
    print_json(to_json(m, parameters, bytes));
    return;
  }
  const auto& c = m.config;
  fmt::print("model       {} ({})\n", m.path, m.format);
  fmt::print("arch        {}: {} layers, hidden {}, ffn {}, {} heads ({} key/value), head dim {}\n",
             c.architecture, c.layers, c.hidden_size, c.ffn_size, c.heads, c.kv_heads, c.head_dim);
  fmt::print("context     {} tokens\n", c.context_length);
  fmt::print("rope        theta {}, {} layout, {} scaling{}\n", c.rope.theta,
             rope_layout_name(c.rope.layout), rope_scaling_name(c.rope.scaling),
             c.rope.freq_factors.empty() ? "" : ", rope_freqs tensor");
  fmt::print("norm        RMS, eps {}\n", c.rms_eps);
  fmt::print("embeddings  {}\n",
             c.tied_embeddings ? "tied (output head = token embedding)" : "separate output head");
  fmt::print("parameters  {} ({:.2f} MiB stored)\n", parameters,
             static_cast<double>(bytes) / (1 << 20));
  const auto& v = m.vocab;
  fmt::print("tokenizer   {}, {} tokens, bos {}, eos {}, unk {}, add bos {}\n",
             tokenizer_kind_name(v.kind), v.size(), v.bos_id, v.eos_id, v.unk_id,
             v.add_bos ? "yes" : "no");
  fmt::print("tensors     {}\n", m.tensors.size());
  for (const auto& t : m.tensors)
    fmt::print("  {:<40} {:<6} {:<16} {:>12} bytes\n", t.name, import::type_traits(t.type).name,
               fmt::format("[{}]", fmt::join(t.shape, ", ")), t.bytes);
  if (o.metadata) {
    fmt::print("metadata    {}\n", m.metadata.size());
    for (const auto& [key, value] : m.metadata) fmt::print("  {:<40} {}\n", key, value);
  }
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a model: architecture, tensors, tokenizer");
  cmd->add_option("MODEL", options->model, "GGUF file, Hugging Face folder or .etch file")
      ->required();
  cmd->add_flag("--json", options->json, "Print JSON");
  cmd->add_flag("--metadata", options->metadata, "Also list every metadata key");
  cmd->callback([options] { execute(*options); });
}

}  // namespace etch::cli
