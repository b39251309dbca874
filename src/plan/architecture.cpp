// Architecture mapping: every layer its own tile of ROM arrays, tile datapaths (the contract's
// multiply-select-add units), an attention unit and its KV SRAM; the embedding and the head
// get tiles too.
#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.hpp"
#include "plan/model.hpp"

namespace etch::plan::detail {

namespace {

double ceil_div(int64_t a, int64_t b) {
  return static_cast<double>((a + b - 1) / b);
}

// A w-bit carry-propagate adder with its result register.
double registered_adder_t(int bits) {
  return bits * (kFullAdderT + kFlopT);
}

// A multiplier-accumulator of the attention unit or a LoRA path: an array multiplier and its
// share of the carry-save tree that sums the products (half a 4:2 compressor per operand bit).
double mac_t(int x_bits, int y_bits) {
  return array_multiplier_t(x_bits, y_bits) + (x_bits + y_bits + 2) * kCompressorT / 2;
}

double mac_j(const Energies& e, int x_bits, int y_bits) {
  return e.mult8 * x_bits * y_bits / 64.0 + e.add32;
}

Tile empty_tile(std::string name, int64_t first_layer) {
  Tile t;
  t.name = std::move(name);
  t.first_layer = first_layer;
  return t;
}

}  // namespace

double array_multiplier_t(int m, int n) {
  return m * n * kAndT + (n - 2) * m * kFullAdderT + m * kHalfAdderT;
}

double serial_multiplier_t(int n) {
  return n * (kAndT + kFullAdderT + 2 * kFlopT);
}

double line_cell_pitches(int code_bits, const Estimates& estimates) {
  const double tracks = static_cast<double>((int64_t{1} << code_bits) + 1);
  return std::max(estimates.rom_cell_pitches, std::ceil(tracks / estimates.line_layers));
}

int64_t rom_rows(const Estimates& estimates) {
  return std::max<int64_t>(1, std::llround(estimates.rom_rows));
}

double clock_hz(const Node& node, const Estimates& estimates) {
  return node.clock_ghz * estimates.clock_scale * 1e9;
}

namespace {

// The group multiplier of a bit-parallel partial: an array multiplier by the hc code, a
// shifter by fp4's exponent (one two-way mux per bit and exponent bit), nothing when every
// multiplier is 1.
double group_scale_t(const contract::Format& format, const contract::TileUnits& u) {
  if (u.group_multiplier_bits == 0) return 0;
  return format.kind == contract::WeightFormat::kFp4
             ? u.group_multiplier_bits * kMux2T * u.accumulator_bits
             : array_multiplier_t(u.partial_bits, u.group_multiplier_bits);
}

// K bit cells per weight, sensed, and a 2^K:1 selector per weight slot: bit-parallel, one tile
// per cycle.
TileDatapath digital_select(const contract::Format& format, int64_t rom_rows) {
  TileDatapath d;
  d.units = contract::tile_units(format);
  d.tiles_per_product = rom_rows;
  const auto& u = d.units;
  const auto count = [](int64_t n) { return static_cast<double>(n); };
  // A fitted level is a multiplier per product; a fixed level (int8, hc8, fp4) is a constant,
  // formed from the previous level's product by one shift and add. Either way the product is
  // registered for the selectors.
  const double product = format.fitted_levels
                             ? array_multiplier_t(u.multiplier_input_bits, u.multiplier_weight_bits)
                             : u.product_bits * kFullAdderT;
  d.bank_t = count(u.multipliers) * (product + u.product_bits * kFlopT);
  // A transmission-gate tree: (inputs - 1) two-way muxes per product bit.
  d.selector_t = count(u.selectors) * count(u.selector_inputs - 1) * kMux2T * u.product_bits;
  // Carry-save trees of 4:2 compressors (half a compressor per operand bit, the operands
  // growing from the product's width to the partial's), registered every fourth level, then a
  // carry-propagate adder to the partial.
  const double operand_bits = (u.product_bits + u.partial_bits) / 2.0;
  d.adder_tree_t = count(u.adder_trees) *
                   (count(u.adder_tree_inputs) * operand_bits * (kCompressorT / 2 + kFlopT / 4) +
                    u.partial_bits * kFullAdderT);
  d.group_mac_t =
      count(u.group_macs) * (group_scale_t(format, u) + registered_adder_t(u.accumulator_bits));
  return d;
}

// One cell per weight, its via on one of the input element's 2^K product lines. The cell passes
// one bit per cycle, so each product streams through it least significant bit first, and a
// tile takes as many cycles as its partial has bits (the sum's upper bits leave the serial tree
// after the products' last bit). The ROM's rom_rows cycles per product then hold
// rom_rows / cycles_per_tile tiles, one per cell on a bitline, and a matrix needs about
// cycles_per_tile times as many datapaths as in digital-select, each a bit-serial one.
TileDatapath cell_select(const contract::Format& format, int64_t rom_rows) {
  TileDatapath d;
  d.units = contract::tile_units(format);
  const auto& u = d.units;
  const auto count = [](int64_t n) { return static_cast<double>(n); };
  d.cycles_per_tile = u.partial_bits;
  d.tiles_per_product = std::max<int64_t>(1, rom_rows / d.cycles_per_tile);
  // Each product line is driven by a generator streaming its product: a serial-parallel
  // multiplier of the parallel level by the serial activation (fitted levels) or a serial adder
  // forming it from the previous level's (fixed levels); every input element's activation is a
  // shift register shared by its 2^K generators.
  const double generator = format.fitted_levels ? serial_multiplier_t(u.multiplier_weight_bits)
                                                : kFullAdderT + 2 * kFlopT;
  d.bank_t = count(u.multipliers) * (generator + kRomDriverT) +
             count(u.group) * u.multiplier_input_bits * kFlopT;
  // The cells are the selectors; each output bitline has its sense latch.
  d.selector_t = count(u.selectors) * kRomSenseT;
  // Serial adders (a full adder and its carry flip-flop), registered every fourth level.
  d.adder_tree_t =
      count(u.adder_trees) * count(u.adder_tree_inputs - 1) * (kFullAdderT + kFlopT + kFlopT / 4);
  // Per row the partial is gathered into a register and added to the row's accumulator. A row
  // yields a partial every cycles_per_tile cycles, so one group multiplier and adder serve
  // cycles_per_tile rows in turn: ceil(rows / cycles_per_tile) of them per datapath.
  const double shared = std::ceil(count(u.group_macs) / count(d.cycles_per_tile));
  d.group_mac_t = count(u.group_macs) * (u.partial_bits + u.accumulator_bits) * kFlopT +
                  shared * (group_scale_t(format, u) + u.accumulator_bits * kFullAdderT);
  return d;
}

// The digital-select datapath counted from the synthesized RTL tile. Its weight slot's figure
// holds the selector and the slot's input to the row's sum together (synthesis shares logic
// between them), so it is all counted as the selectors'.
TileDatapath synthesized_select(const contract::Format& format, int64_t rom_rows,
                                const SynthTable& synth) {
  const auto tile = synth.tiles.find(format.name());
  if (tile == synth.tiles.end()) {
    std::string known;
    for (const auto& [name, unused] : synth.tiles) known += (known.empty() ? "" : ", ") + name;
    fail_file(synth.path, "no {} tile to plan its matrices with (the table has {})", format.name(),
              known);
  }
  TileDatapath d;
  d.units = contract::tile_units(format);
  d.tiles_per_product = rom_rows;
  const auto& u = d.units;
  const double t = synth.transistors_per_nand2;
  d.bank_t = static_cast<double>(u.multipliers) * tile->second.nand2_per_product * t;
  d.selector_t = static_cast<double>(u.selectors) * tile->second.nand2_per_weight * t;
  d.group_mac_t = static_cast<double>(u.group_macs) * tile->second.nand2_per_row * t;
  return d;
}

}  // namespace

TileDatapath tile_datapath(const contract::Format& format, Circuit circuit, int64_t rom_rows,
                           const SynthTable* synth) {
  if (circuit == Circuit::kCellSelect) return cell_select(format, rom_rows);
  return synth ? synthesized_select(format, rom_rows, *synth) : digital_select(format, rom_rows);
}

int64_t kv_positions_per_cycle(int64_t kv_tokens) {
  return std::max<int64_t>(1, (kv_tokens + kSramRows - 1) / kSramRows);
}

int64_t matvec_cycles(int64_t in, int64_t rom_rows) {
  // One wordline per cycle, then the adder tree across arrays (registered every fourth
  // level), select and candidate set-up.
  const int64_t tree = static_cast<int64_t>(std::ceil(std::log2(static_cast<double>(in)) / 4));
  return rom_rows + tree + 3;
}

Energies energies(const Node& node, const Estimates& estimates) {
  Energies e;
  const double cell_ff = kRomBitlineCellFf * node.cpp_nm / 57.0;
  // Precharged bitline: about half the cells read discharge it.
  e.rom_bit =
      0.5 * static_cast<double>(rom_rows(estimates)) * cell_ff * 1e-15 * node.vdd * node.vdd;
  const double scale = node.energy_scale * estimates.energy_scale;
  e.add16 = kAdd16J * scale;
  e.add32 = kAdd32J * scale;
  e.mult8 = kMult8J * scale;
  e.sram_bit = kSram8kBitJ * scale;
  return e;
}

std::vector<Tile> map_tiles(const PlanInput& in, const Node& node, int64_t kv_tokens) {
  const ModelShape& m = in.model;
  const Estimates& est = in.estimates;
  const Energies e = energies(node, est);
  const int64_t rows = rom_rows(est);
  const double logic_per_mm2 = node.logic_mtr_mm2 * 1e6 * est.logic_utilisation;
  // A multi-bit cell (docs/planner.md, "Multi-bit ROM cells") holds b bits in one transistor:
  // its via ties it to one of 2^b level lines, so it is as wide as a cell-select cell of a
  // b-bit code, and its bitline is sensed against 2^b - 1 reference levels, a comparator (a
  // sense latch) per level.
  const double bits_per_cell = in.rom_bits_per_transistor;
  const double multibit_cell_um2 =
      node.cpp_nm * node.mp_nm * 1e-6 * line_cell_pitches(in.rom_bits_per_transistor, est);
  const double sense_t = kRomSenseT * (std::exp2(bits_per_cell) - 1);
  const double sram_um2 = node.sram_cell_um2 / kSramMacroEfficiency;
  const int64_t avg_context = std::min(in.context, in.prompt_tokens + in.answer_tokens / 2);
  const int64_t q_width = m.heads * m.head_dim;
  const int64_t kv_width = m.kv_heads * m.head_dim;

  // Sense latches per bitline and drivers per wordline of the cells holding `bits`.
  const auto rom_periphery = [&](double bits) {
    const double cells = bits / bits_per_cell;
    return cells / static_cast<double>(rows) * sense_t + cells / kRomColumns * kRomDriverT;
  };
  // ROM holding bits, `bits_per_cell` per transistor (codes in digital-select; level tables,
  // group multipliers, row scales and the embedding in either circuit).
  const auto add_bit_cells = [&](Tile& t, double bits) {
    t.transistors.rom += bits / bits_per_cell;
    t.area.rom += bits / bits_per_cell * multibit_cell_um2 / est.rom_array_efficiency * 1e-6;
  };

  // Adds a matrix's ROM and tile datapaths and its per-token energy to a tile. A matrix-vector
  // product reads every ROM wordline once, so rom_rows cycles; a datapath computes
  // tiles_per_product tiles in that time, so a matrix needs its tiles over that many datapaths.
  const bool selects_in_cell = in.circuit == Circuit::kCellSelect;
  const auto add_matrix = [&](Tile& t, const WeightMatrix& x, double& logic, double& energy) {
    const TileDatapath d =
        tile_datapath(x.format, in.circuit, rows, in.synth ? &*in.synth : nullptr);
    const auto& u = d.units;
    const double tiles = ceil_div(x.rows, u.rows) * ceil_div(x.cols, u.group);
    const double datapaths =
        std::ceil(tiles * static_cast<double>(x.copies) / static_cast<double>(d.tiles_per_product));
    const auto bits = static_cast<double>(x.rom_bits());
    const auto weights = static_cast<double>(x.weights());
    // Cell-select: one cell per weight in place of its code's K bits.
    const double code_cells = selects_in_cell ? weights : 0;
    const double bit_cells = selects_in_cell ? bits - weights * x.format.bits : bits;
    t.weights += weights;
    t.rom_bits += bits;
    t.datapaths += datapaths;
    t.multipliers += datapaths * static_cast<double>(u.multipliers);
    t.selectors += datapaths * static_cast<double>(u.selectors);
    t.adder_trees += datapaths * static_cast<double>(u.adder_trees);
    t.group_macs += datapaths * static_cast<double>(u.group_macs);
    t.transistors.datapath += datapaths * d.transistors();
    add_bit_cells(t, bit_cells);
    t.transistors.rom += code_cells;
    t.area.rom += code_cells * node.cpp_nm * node.mp_nm * 1e-6 *
                  line_cell_pitches(x.format.bits, est) / est.rom_array_efficiency * 1e-6;
    // The code cells' sense latches are the cell-select datapath's selectors.
    logic += datapaths * d.transistors() + rom_periphery(bit_cells) +
             code_cells / kRomColumns * kRomDriverT;

    const double share = static_cast<double>(x.active) / static_cast<double>(x.copies);
    const double read = tiles * static_cast<double>(x.active);
    const double product = x.format.fitted_levels
                               ? e.mult8 * u.multiplier_input_bits * u.multiplier_weight_bits / 64.0
                               : e.add16 * u.product_bits / 16.0;
    // A bit-serial cell is read once per cycle of its tile, on a bitline of tiles_per_product
    // cells; each product line runs past the tile's rows and as many cells per row.
    const double serial_read_j = static_cast<double>(d.cycles_per_tile) * e.rom_bit *
                                 static_cast<double>(d.tiles_per_product) /
                                 static_cast<double>(rows);
    energy += bit_cells / bits_per_cell * share * e.rom_bit + code_cells * share * serial_read_j;
    energy += read * static_cast<double>(u.multipliers) *
              (product + (selects_in_cell ? serial_read_j * static_cast<double>(u.rows) : 0));
    // Per weight: its add in the tree and a quarter register, and in digital-select the select
    // (about half an add).
    energy += read * static_cast<double>(u.selectors) * e.add16 * u.partial_bits / 16.0 *
              (selects_in_cell ? 1.25 : 1.75);
    energy += read * static_cast<double>(u.group_macs) *
              (e.mult8 * u.partial_bits * u.group_multiplier_bits / 64.0 +
               e.add32 * u.accumulator_bits / 32.0);
  };

  const auto finish = [&](Tile& t, double logic, double sram_bits, double energy) {
    t.transistors.logic = logic;
    t.transistors.sram = (t.kv_bits + sram_bits) * 6 * (1 + kSramPeripheryShare);
    t.area.compute = logic / logic_per_mm2;
    t.area.kv_sram = t.kv_bits * sram_um2 * 1e-6;
    t.area.sram = sram_bits * sram_um2 * 1e-6;
    t.energy_j = energy;
  };

  std::vector<Tile> tiles;
  Tile embedding = empty_tile("embedding", -1);
  Tile head = empty_tile("head", -1);
  std::vector<Tile> layers;
  std::vector<double> layer_logic(static_cast<size_t>(m.layers)),
      layer_energy(static_cast<size_t>(m.layers));
  for (int64_t l = 0; l < m.layers; ++l)
    layers.push_back(empty_tile("layer " + std::to_string(l), l));
  double head_logic = 0, head_energy = 0;
  for (const WeightMatrix& x : in.weights.matrices) {
    if (x.layer >= 0) {
      const auto l = static_cast<size_t>(x.layer);
      add_matrix(layers.at(l), x, layer_logic[l], layer_energy[l]);
    } else if (x.name == "token_embd") {
      // A lookup: one row of codes, its tables, multipliers and scale read per token.
      embedding.weights += static_cast<double>(x.weights());
      embedding.rom_bits += static_cast<double>(x.rom_bits());
    } else {
      add_matrix(head, x, head_logic, head_energy);
    }
  }
  add_bit_cells(embedding, embedding.rom_bits);
  finish(embedding, rom_periphery(embedding.rom_bits), 0,
         embedding.rom_bits / static_cast<double>(m.vocab) / bits_per_cell * e.rom_bit);
  tiles.push_back(embedding);

  const int64_t positions = kv_positions_per_cycle(kv_tokens);
  const auto kv_bits_per_position =
      static_cast<double>(contract::kv_bits_per_token(1, m.kv_heads, m.head_dim));
  for (size_t l = 0; l < layers.size(); ++l) {
    Tile& t = layers[l];
    double logic = layer_logic[l], energy = layer_energy[l];
    // Attention: K and V macros are read in parallel (online softmax), every macro one row
    // per cycle, and each position meets every query head of its group: int16 queries and
    // attention weights against int16 keys and values.
    t.kv_bits = static_cast<double>(kv_tokens) * kv_bits_per_position;
    const double macs = static_cast<double>(positions) * 2 * q_width;
    logic += macs * mac_t(contract::kActivationBits, contract::kKvBits);
    energy += static_cast<double>(avg_context) * kv_bits_per_position * e.sram_bit;
    energy += static_cast<double>(avg_context) * 2 * q_width *
              mac_j(e, contract::kActivationBits, contract::kKvBits);

    // Activation buffers (the double-buffered binary32 residual; the quantized attention and
    // FFN vectors) and the norm/RoPE/softmax/SiLU units.
    const double buffer_bits =
        2.0 * m.hidden * kResidualBits +
        (2.0 * m.ffn * m.active_experts + q_width + 2.0 * kv_width) * contract::kActivationBits;
    logic += buffer_bits * kFlopT + kLayerMiscT;

    // LoRA adapters on every dense matrix: A (in x r) and B (r x out) in SRAM, applied by
    // MAC units that finish within one matrix-vector product.
    double lora_bits = 0;
    if (in.lora_rank > 0) {
      double lora_params =
          static_cast<double>(in.lora_rank) *
          ((m.hidden + q_width + 2.0 * (m.hidden + kv_width)) + (q_width + m.hidden));
      if (m.experts == 1)
        lora_params += static_cast<double>(in.lora_rank) * (3.0 * (m.hidden + m.ffn));
      lora_bits = lora_params * kLoraBits;
      logic += std::ceil(lora_params / static_cast<double>(rows)) *
               mac_t(contract::kActivationBits, kLoraBits);
      energy +=
          lora_params * (mac_j(e, contract::kActivationBits, kLoraBits) + kLoraBits * e.sram_bit);
    }
    finish(t, logic, lora_bits, energy);
    tiles.push_back(t);
  }

  head_logic += kLayerMiscT;  // final norm and the argmax tree
  finish(head, head_logic, 0, head_energy);
  tiles.push_back(head);
  return tiles;
}

}  // namespace etch::plan::detail
