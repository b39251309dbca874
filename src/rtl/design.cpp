// etch rtl's generator: the per-model part of the chip (top level, ROM files, README) beside a
// copy of the fixed library.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>

#include "core/error.hpp"
#include "core/output_file.hpp"
#include "plan/plan.hpp"
#include "rtl/library.hpp"
#include "rtl/rtl.hpp"

namespace etch::rtl {

namespace {

// Weight formats one design holds, each in a ROM slot of etch_core (hc1 mixes hc3 to hc6).
constexpr size_t kMaxFormats = 4;
// Tiles side by side per format: far more than a simulation builds in bounded time.
constexpr int64_t kMaxTiles = 64;

// The planner's tiling (src/plan/architecture.cpp, map_tiles): a product reads each of its ROM
// arrays' rom_rows wordlines once, one contract tile (kTileRows rows x a group) per wordline, so
// a matrix gets ceil(tiles / rom_rows) datapaths. The design shares its tiles among a format's
// matrices, so it takes the most any product matrix needs (the embedding is a lookup).
int64_t planner_tiles(const compile::EtchModel& model) {
  const auto rom_rows = static_cast<int64_t>(plan::Estimates{}.rom_rows);
  int64_t tiles = 1;
  for (size_t i = 1; i < model.matrices.size(); ++i) {
    const compile::MatrixView& m = model.matrices[i];
    const int64_t group = m.contract_format().group;
    const int64_t contract_tiles =
        (m.rows + contract::kTileRows - 1) / contract::kTileRows * ((m.cols + group - 1) / group);
    tiles = std::max(tiles, (contract_tiles + rom_rows - 1) / rom_rows);
  }
  return std::min(tiles, kMaxTiles);
}

uint32_t float_bits(float value) {
  return std::bit_cast<uint32_t>(value);
}

// A little-endian bit vector printed as one $readmemh word.
class Word {
 public:
  explicit Word(int64_t bits) : bits_(bits), bytes_(static_cast<size_t>((bits + 7) / 8), 0) {}
  void set(int64_t at, uint64_t value, int width) {
    for (int b = 0; b < width; ++b)
      if ((value >> b) & 1)
        bytes_[static_cast<size_t>((at + b) / 8)] |= static_cast<uint8_t>(1u << ((at + b) % 8));
  }
  void append_hex(std::string& out) const {
    for (int64_t digit = (bits_ + 3) / 4 - 1; digit >= 0; --digit) {
      const uint8_t byte = bytes_[static_cast<size_t>(digit / 2)];
      out += "0123456789abcdef"[digit % 2 ? byte >> 4 : byte & 15];
    }
    out += '\n';
  }

 private:
  int64_t bits_;
  std::vector<uint8_t> bytes_;
};

// One ROM of a tile format: every matrix stored in it, in forward order.
struct Slot {
  contract::Format format;
  int64_t group = 0;
  int multiplier_bits = 1;  // at least one bit: a port cannot be empty
  int multiplier_kind = 0;
  int64_t words = 0, tiles = 0;
  std::string codes, levels;
};

int multiplier_kind(contract::WeightFormat kind) {
  switch (kind) {
    case contract::WeightFormat::kInt8:
      return 0;
    case contract::WeightFormat::kHc:
      return 1;
    case contract::WeightFormat::kFp4:
      return 2;
  }
  return 0;
}

// Appends matrix `m` to `slot`: per block of `rows` rows and group, ROWS x GROUP codes (row
// major) below ROWS multiplier codes; per contract tile one level table.
void append_matrix(Slot& slot, const compile::MatrixView& m, int64_t rows) {
  const int k = m.bits;
  const int64_t group = slot.group, groups = (m.cols + group - 1) / group;
  const int64_t code_bits = rows * group * k;
  const int64_t blocks = (m.rows + rows - 1) / rows;
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t g = 0; g < groups; ++g) {
      Word word(code_bits + rows * slot.multiplier_bits);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t row = b * rows + r;
        if (row >= m.rows) break;
        for (int64_t c = 0; c < group && g * group + c < m.cols; ++c)
          word.set((r * group + c) * k, m.code(row, g * group + c), k);
        if (m.multiplier_bits > 0)
          word.set(code_bits + r * slot.multiplier_bits, m.multiplier_code(row, g),
                   slot.multiplier_bits);
      }
      word.append_hex(slot.codes);
    }
  slot.words += blocks * groups;
  const int64_t levels = int64_t{1} << k;
  for (int64_t t = 0; t < m.tiles(); ++t) {
    Word table(levels * 8);
    for (int64_t l = 0; l < levels; ++l) {
      const int8_t level = slot.format.fitted_levels
                               ? m.levels[static_cast<size_t>(t * levels + l)]
                               : contract::fixed_level(slot.format, static_cast<uint32_t>(l));
      table.set(l * 8, static_cast<uint8_t>(level), 8);
    }
    table.append_hex(slot.levels);
  }
  slot.tiles += m.tiles();
}

void append_float(std::string& out, float value) {
  out += fmt::format("{:08x}\n", float_bits(value));
}

std::string readme(const compile::EtchModel& model, const Design& design,
                   const std::vector<Slot>& slots, const DesignOptions& options) {
  const auto& c = model.config;
  std::string formats;
  for (size_t s = 0; s < slots.size(); ++s)
    formats += fmt::format(
        "- `rom/codes{0}.hex`, `rom/levels{0}.hex`: every {1} matrix ({2} words "
        "of a {3}-row block x {4}-column group, {5} level tables)\n",
        s, slots[s].format.name(), slots[s].words, options.tile_rows * design.tiles, slots[s].group,
        slots[s].tiles);
  return fmt::format(
      R"(# The chip of {model}

Generated by `etch rtl` from `{model}` (recipe {recipe}, contract v{contract}): hidden {hidden},
{layers} layers, {heads} heads ({kv_heads} KV heads) of {head_dim}, FFN {ffn}, vocabulary
{vocab}, a KV cache of {context} positions; per weight format {tiles} tile(s) of {tile_rows} rows
side by side (blocks of {rows} rows), {lanes} product row(s) out per cycle, {element_lanes}
element(s) per cycle in the element-wise steps.

## Files

- `sv/{top}.sv`: the per-model top level, `{top}`: the model's shapes as parameters of
  `etch_core` and the names of its ROM files.
- `sv/*.sv` (the rest): the fixed library, copied from etch's `src/rtl/sv` (its README describes
  each module): `etch_core` is the layer sequencer, `etch_weights` a format's weight ROM and
  multiply-select-add tile, `kv_cache` the KV-cache SRAM, the others the contract's units.
- `rom/matrices.hex`: one 256-bit descriptor per matrix in forward order (embedding, per layer
  q k v o gate up down, output head): format slot, first word, first level tile, first row
  scale, rows, columns, groups, first bias word (all ones: none), 32 bits each from the LSB.
{formats}- `rom/scales.hex`: every matrix's row scales (binary32).
- `rom/vectors.hex`: attention norms, FFN norms, the output norm, the biases, RoPE cos and sin.
- `exp_table.mem`: the exp unit's table (`contract::exp_table()`; the library's default name).

The ROMs are memories loaded with `$readmemh` when simulation starts (paths relative to this
folder), so Verilator's build time does not grow with the model's size.

## Protocol

Hold `token` and `position` and raise `start` for one cycle; `busy` stays high until the
token's logits are out. `trace_valid` marks `trace_count` elements (from `trace_index`, lane l in
`trace_value[32l +: 32]`) of the residual stream after each layer's attention (`trace_unit` 0)
and after the layer (1), and of the logits (2).

## Simulate

`etch rtl {model} -o DIR --verify --prompt-ids "1 2 3" -n 4` builds this design with Verilator
and a testbench (`tb/`), runs it and compares every layer's output and every logit with the
integer engine bit for bit. By hand, from this folder:

```sh
verilator --lint-only -Wall --top-module {top} sv/*.sv
verilator --cc --exe --build -O1 --top-module {top} sv/*.sv tb/testbench.cpp -o testbench
```

## Synthesize

Yosys reads the same sources; `$readmemh` gives the ROMs their contents, so synthesis sees each
ROM as logic:

```sh
yosys -p "read_verilog -sv sv/*.sv; synth -top {top}; stat"
```
)",
      fmt::arg("model", model.path), fmt::arg("recipe", model.recipe),
      fmt::arg("contract", model.contract_version), fmt::arg("hidden", c.hidden_size),
      fmt::arg("layers", c.layers), fmt::arg("heads", c.heads), fmt::arg("kv_heads", c.kv_heads),
      fmt::arg("head_dim", c.head_dim), fmt::arg("ffn", c.ffn_size),
      fmt::arg("vocab", c.vocab_size), fmt::arg("context", design.context),
      fmt::arg("rows", options.tile_rows * design.tiles), fmt::arg("tile_rows", options.tile_rows),
      fmt::arg("tiles", design.tiles), fmt::arg("lanes", design.lanes),
      fmt::arg("element_lanes", options.element_lanes), fmt::arg("top", design.top),
      fmt::arg("formats", formats));
}

}  // namespace

Design write_design(const compile::EtchModel& model, const std::string& dir,
                    const DesignOptions& options) {
  const auto& c = model.config;
  const int64_t tile_rows = options.tile_rows;
  if (tile_rows < 1 || contract::kTileRows % tile_rows != 0 ||
      !std::has_single_bit(static_cast<uint64_t>(tile_rows)))
    fail("rtl: --tile-rows {} must be a power of two dividing {}", tile_rows, contract::kTileRows);
  if (options.tiles < 0 || options.tiles > kMaxTiles)
    fail("rtl: --tiles {} must be between 1 and {} (0: the planner's)", options.tiles, kMaxTiles);
  if (options.element_lanes < 1 || options.element_lanes > kMaxElementLanes)
    fail("rtl: --element-lanes {} must be between 1 and {}", options.element_lanes,
         kMaxElementLanes);
  if (options.int8_group < 1 || options.int8_group > contract::kInt8Group ||
      !std::has_single_bit(static_cast<uint64_t>(options.int8_group)))
    fail("rtl: --int8-group {} must be a power of two up to {}", options.int8_group,
         contract::kInt8Group);
  Design design;
  design.top = "etch_top";
  design.tiles = options.tiles > 0 ? options.tiles : planner_tiles(model);
  const int64_t rows = tile_rows * design.tiles;  // a block: every tile's rows
  design.lanes = options.lanes > 0 ? options.lanes : rows;
  if (options.lanes < 0 || rows % design.lanes != 0)
    fail("rtl: --lanes {} must divide the {} rows of a block (--tile-rows x --tiles)",
         options.lanes, rows);
  design.context =
      options.context > 0 ? options.context : std::min<int64_t>(model.rope_positions, 2048);
  if (design.context > model.rope_positions)
    fail_file(model.path, "context {} exceeds the {} positions of its RoPE tables", design.context,
              model.rope_positions);
  if (c.heads % c.kv_heads != 0)
    fail_file(model.path, "{} heads are not a multiple of {} KV heads", c.heads, c.kv_heads);
  const int64_t pairs = c.rope.dims / 2;
  if (pairs < 1) fail_file(model.path, "RoPE rotates no pairs (dims {})", c.rope.dims);

  // Formats in order of first use; each gets one ROM slot.
  std::vector<Slot> slots;
  std::vector<size_t> slot_of;
  for (const auto& m : model.matrices) {
    const contract::Format f = m.contract_format();
    auto it = std::find_if(slots.begin(), slots.end(),
                           [&](const Slot& s) { return s.format.name() == f.name(); });
    if (it == slots.end()) {
      if (slots.size() == kMaxFormats)
        fail_file(model.path, "the RTL takes at most {} weight formats; {} is one more",
                  kMaxFormats, f.name());
      Slot s;
      s.format = f;
      s.group = f.kind == contract::WeightFormat::kInt8 ? options.int8_group : f.group;
      s.multiplier_bits = std::max(1, f.multiplier_bits);
      s.multiplier_kind = multiplier_kind(f.kind);
      slots.push_back(std::move(s));
      it = slots.end() - 1;
    }
    slot_of.push_back(static_cast<size_t>(it - slots.begin()));
  }

  // Vector ROM: norms, then biases, then RoPE tables.
  std::string vectors;
  for (const auto& w : model.attn_norms)
    for (float v : w) append_float(vectors, v);
  for (const auto& w : model.ffn_norms)
    for (float v : w) append_float(vectors, v);
  for (float v : model.output_norm) append_float(vectors, v);
  int64_t vector_words = (2 * c.layers + 1) * c.hidden_size;
  std::vector<int64_t> bias_of(model.matrices.size(), -1);
  for (int64_t l = 0; l < c.layers; ++l) {
    const auto& b = model.biases[static_cast<size_t>(l)];
    const std::pair<import::Role, std::span<const float>> biases[] = {
        {import::Role::kAttnQ, b.q},
        {import::Role::kAttnK, b.k},
        {import::Role::kAttnV, b.v},
        {import::Role::kAttnOutput, b.o}};
    for (const auto& [role, bias] : biases) {
      if (bias.empty()) continue;
      bias_of[compile::matrix_index(role, l, c.layers)] = vector_words;
      for (float v : bias) append_float(vectors, v);
      vector_words += static_cast<int64_t>(bias.size());
    }
  }
  const int64_t cos_base = vector_words;
  for (const auto& table : {model.rope_cos, model.rope_sin})
    for (int64_t i = 0; i < design.context * pairs; ++i)
      append_float(vectors, table[static_cast<size_t>(i)]);

  // Descriptors, scales and the format ROMs.
  std::string descriptors, scales;
  int64_t scale_words = 0;
  for (size_t i = 0; i < model.matrices.size(); ++i) {
    const compile::MatrixView& m = model.matrices[i];
    Slot& slot = slots[slot_of[i]];
    const int64_t groups = (m.cols + slot.group - 1) / slot.group;
    Word d(256);
    const int64_t fields[8] = {static_cast<int64_t>(slot_of[i]),
                               slot.words,
                               slot.tiles,
                               scale_words,
                               m.rows,
                               m.cols,
                               groups,
                               bias_of[i]};
    for (int f = 0; f < 8; ++f) d.set(f * 32, static_cast<uint32_t>(fields[f]), 32);
    d.append_hex(descriptors);
    append_matrix(slot, m, rows);
    for (float s : m.scales) append_float(scales, s);
    scale_words += m.rows;
  }

  namespace fs = std::filesystem;
  std::error_code ec;
  for (const char* sub : {"sv", "rom"}) {
    fs::create_directories(fs::path(dir) / sub, ec);
    if (ec) fail("rtl: cannot create {}: {}", (fs::path(dir) / sub).string(), ec.message());
  }
  auto write = [&](const std::string& name, std::string_view text) {
    write_file_atomically((fs::path(dir) / name).string(), text);
    design.files.push_back(name);
  };
  for (const LibraryFile& f : library_files()) write("sv/" + std::string(f.name), f.text);
  std::string exp_table;
  for (uint32_t e : contract::exp_table()) exp_table += fmt::format("{:05x}\n", e);
  write("exp_table.mem", exp_table);
  write("rom/matrices.hex", descriptors);
  write("rom/scales.hex", scales);
  write("rom/vectors.hex", vectors);
  for (size_t s = 0; s < slots.size(); ++s) {
    write(fmt::format("rom/codes{}.hex", s), slots[s].codes);
    write(fmt::format("rom/levels{}.hex", s), slots[s].levels);
  }

  std::string slot_parameters;
  for (size_t s = 0; s < kMaxFormats; ++s) {
    const Slot& slot = slots[std::min(s, slots.size() - 1)];
    slot_parameters += fmt::format(
        "      .K{0}({1}),\n      .GROUP{0}({2}),\n      .MULTIPLIER_BITS{0}({3}),\n"
        "      .MULTIPLIER_KIND{0}({4}),\n      .WORDS{0}({5}),\n      .TILES{0}({6}),\n"
        "      .CODES{0}_FILE(\"rom/codes{7}.hex\"),\n      "
        ".LEVELS{0}_FILE(\"rom/levels{7}.hex\"),\n",
        s, slot.format.bits, slot.group, slot.multiplier_bits, slot.multiplier_kind, slot.words,
        slot.tiles, std::min(s, slots.size() - 1));
  }
  const std::string top = fmt::format(
      R"(// The chip of {model}, generated by etch rtl: the model's shapes and ROM files on the
// fixed library's layer sequencer (etch_core). README.md describes the files.
module {top} (
    input  logic        clk,
    input  logic        start,
    input  logic [31:0] token,
    input  logic [31:0] position,
    output logic        busy,
    output logic        trace_valid,
    output logic [ 1:0] trace_unit,
    output logic [31:0] trace_layer,
    output logic [31:0] trace_index,
    output logic [31:0] trace_count,
    output logic [{trace_bits}:0] trace_value
);
  etch_core #(
      .HIDDEN({hidden}),
      .LAYERS({layers}),
      .HEADS({heads}),
      .KV_HEADS({kv_heads}),
      .HEAD_DIM({head_dim}),
      .FFN({ffn}),
      .ROPE_PAIRS({pairs}),
      .ROPE_HALF_SPLIT({half_split}),
      .CONTEXT({context}),
      .COS_BASE({cos_base}),
      .RMS_EPS(32'h{eps:08x}),
      .INV_SQRT_HEAD_DIM(32'h{inv_sqrt:08x}),
      .ROWS({rows}),
      .PARALLEL_TILES({tiles}),
      .LANES({lanes}),
      .ELEMENT_LANES({element_lanes}),
      .SCALE_WORDS({scale_words}),
      .FORMATS({formats}),
{slot_parameters}      .MATRICES_FILE("rom/matrices.hex"),
      .SCALES_FILE("rom/scales.hex"),
      .VECTORS_FILE("rom/vectors.hex"),
      .EXP_TABLE_FILE("exp_table.mem")
  ) core (
      .clk(clk),
      .start(start),
      .token(token),
      .position(position),
      .busy(busy),
      .trace_valid(trace_valid),
      .trace_unit(trace_unit),
      .trace_layer(trace_layer),
      .trace_index(trace_index),
      .trace_count(trace_count),
      .trace_value(trace_value)
  );
endmodule
)",
      fmt::arg("model", model.path), fmt::arg("top", design.top), fmt::arg("hidden", c.hidden_size),
      fmt::arg("layers", c.layers), fmt::arg("heads", c.heads), fmt::arg("kv_heads", c.kv_heads),
      fmt::arg("head_dim", c.head_dim), fmt::arg("ffn", c.ffn_size), fmt::arg("pairs", pairs),
      fmt::arg("half_split", c.rope.layout == import::RopeLayout::kInterleaved ? 0 : 1),
      fmt::arg("context", design.context), fmt::arg("cos_base", cos_base),
      fmt::arg("eps", float_bits(static_cast<float>(c.rms_eps))),
      fmt::arg("inv_sqrt", float_bits(contract::attention_scale(c.head_dim))),
      fmt::arg("rows", rows), fmt::arg("tiles", design.tiles), fmt::arg("lanes", design.lanes),
      fmt::arg("element_lanes", options.element_lanes),
      fmt::arg("trace_bits", design.lanes * 32 - 1), fmt::arg("scale_words", scale_words),
      fmt::arg("formats", slots.size()), fmt::arg("slot_parameters", slot_parameters));
  write("sv/" + design.top + ".sv", top);
  write("README.md", readme(model, design, slots, options));
  return design;
}

}  // namespace etch::rtl
