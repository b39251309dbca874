// Architecture mapping: every layer its own tile of ROM arrays, select-add lanes, candidate
// banks, an attention unit and its KV SRAM; the embedding and the head get tiles too.
#include <algorithm>
#include <cmath>
#include <string>

#include "plan/model.hpp"

namespace etch::plan::detail {

namespace {

struct Matrix {
  int64_t in;
  int64_t out;
  int64_t copies;  // experts stored
  int64_t active;  // experts read per token
};

// Slices a K-bit code splits into, and their widths.
std::vector<int> slice_widths(int bits) {
  if (bits <= 4) return {bits};
  std::vector<int> widths;
  for (int left = bits; left > 0; left -= 3) widths.push_back(std::min(left, 3));
  return widths;
}

double lane_transistors(int width) {
  const double select = (std::ldexp(1.0, width) - 1) * kMux2T * kProductBits;
  // A carry-save tree of 4:2 compressors spends half a compressor per operand bit.
  const double add = (kProductBits + 2) * kCompressorT / 2;
  // The adder tree is registered every fourth level, so a quarter of its sums are flopped.
  const double registers = (kProductBits + 2) * kFlopT / 4;
  return select + add + registers;
}

// One input element's candidate products, latched for the whole matrix-vector product.
// Table levels need a multiplier (used once per level); affine slices form x * 0..7 with
// three adders (the rest are shifts) and all slices of a code share that one set.
double bank_transistors(int width, bool table) {
  const double latches = std::ldexp(1.0, width) * kProductBits * kLatchT;
  return latches + (table ? kMult8T : 3 * kProductBits * kFullAdderT);
}

double mac_transistors() {
  return kMult8T + 24 * kCompressorT / 2;
}

Tile empty_tile(std::string name, int64_t first_layer) {
  Tile t;
  t.name = std::move(name);
  t.first_layer = first_layer;
  return t;
}

}  // namespace

Slicing slicing(const Recipe& recipe) {
  Slicing s;
  double lane_sum = 0, bank_sum = 0;
  const auto add_code = [&](int bits, double share) {
    const auto widths = slice_widths(bits);
    s.slices_per_weight += share * static_cast<double>(widths.size());
    for (int w : widths) lane_sum += share * lane_transistors(w);
    // Codes of up to 4 bits index a level table (or a fixed format such as e2m1, whose
    // levels are shifts and one add); wider codes are affine.
    const bool table = widths.size() == 1 && recipe.per_row_levels;
    s.candidate_sets += 1;
    bank_sum += bank_transistors(widths.front(), table);
  };
  const double f = recipe.high_fraction;
  if (recipe.high_bits != recipe.low_bits && f > 0) {
    add_code(recipe.low_bits, 1 - f);
    add_code(recipe.high_bits, f);
  } else {
    add_code(recipe.low_bits, 1);
  }
  s.lane_transistors = lane_sum / s.slices_per_weight;
  s.bank_transistors = bank_sum / s.candidate_sets;
  return s;
}

int64_t kv_positions_per_cycle(int64_t kv_tokens) {
  return std::max<int64_t>(1, (kv_tokens + kSramRows - 1) / kSramRows);
}

int64_t matvec_cycles(int64_t in) {
  // One wordline per cycle, then the adder tree across arrays (registered every fourth
  // level), select and candidate set-up.
  const int64_t tree = static_cast<int64_t>(std::ceil(std::log2(static_cast<double>(in)) / 4));
  return kRomRows + tree + 3;
}

Energies energies(const Node& node) {
  Energies e;
  const double cell_ff = kRomBitlineCellFf * node.cpp_nm / 57.0;
  // Precharged bitline: about half the cells read discharge it.
  e.rom_bit = 0.5 * kRomRows * cell_ff * 1e-15 * node.vdd * node.vdd;
  // Select (about half an adder's switching), the add, and a quarter of a register.
  e.slice = kAdd16J * (kProductBits + 2) / 16.0 * 1.75 * node.energy_scale;
  e.mult8 = kMult8J * node.energy_scale;
  e.mac8 = (kMult8J + kAdd32J) * node.energy_scale;
  e.sram_bit = kSram8kBitJ * node.energy_scale;
  return e;
}

std::vector<Tile> map_tiles(const PlanInput& in, const Node& node, int64_t kv_tokens) {
  const ModelShape& m = in.model;
  const Slicing sl = slicing(in.recipe);
  const Energies e = energies(node);
  const double logic_per_mm2 = node.logic_mtr_mm2 * 1e6 * kLogicUtilisation;
  const double rom_cell_um2 = node.cpp_nm * kRomCellPitches * node.mp_nm * 1e-6;
  const double sram_um2 = node.sram_cell_um2 / kSramMacroEfficiency;
  const int64_t avg_context = std::min(in.context, in.prompt_tokens + in.answer_tokens / 2);
  const int64_t q_width = m.heads * m.head_dim;
  const int64_t kv_width = m.kv_heads * m.head_dim;

  // Adds a matrix's ROM, lanes, banks and per-token energy to a tile. A head tied to the
  // embedding reads the embedding's ROM, so it brings lanes but no ROM of its own.
  const auto add_matrix = [&](Tile& t, const Matrix& x, bool own_rom, double& logic,
                              double& energy) {
    const double w = static_cast<double>(x.in) * x.out;
    const double bpw = in.recipe.rom_bits_per_weight(x.in);
    t.weights += w * x.copies;
    if (own_rom) t.rom_bits += w * x.copies * bpw;
    const double lanes = std::ceil(w * sl.slices_per_weight / kRomRows) * x.copies;
    t.lanes += lanes;
    const double bits = w * x.copies * bpw;
    logic += lanes * sl.lane_transistors;
    logic += static_cast<double>(x.in) * sl.candidate_sets * x.copies * sl.bank_transistors;
    if (own_rom) logic += bits / kRomRows * kRomSenseT + bits / kRomColumns * kRomDriverT;
    energy += w * x.active * bpw * e.rom_bit;
    energy += w * x.active * sl.slices_per_weight * e.slice;
    energy += static_cast<double>(x.in) * x.active * sl.candidate_sets * 8 * e.mult8;
  };

  const auto finish = [&](Tile& t, double logic, double sram_bits, double energy) {
    t.transistors.rom = t.rom_bits;
    t.transistors.logic = logic;
    t.transistors.sram = (t.kv_bits + sram_bits) * 6 * (1 + kSramPeripheryShare);
    t.area.rom = t.rom_bits * rom_cell_um2 / kRomArrayEfficiency * 1e-6;
    t.area.compute = logic / logic_per_mm2;
    t.area.kv_sram = t.kv_bits * sram_um2 * 1e-6;
    t.area.sram = sram_bits * sram_um2 * 1e-6;
    t.energy_j = energy;
  };

  std::vector<Tile> tiles;
  {
    Tile t = empty_tile("embedding", -1);
    t.rom_bits =
        static_cast<double>(m.embedding_params()) * in.recipe.rom_bits_per_weight(m.hidden);
    t.weights = static_cast<double>(m.embedding_params());
    const double logic =
        t.rom_bits / kRomRows * kRomSenseT + t.rom_bits / kRomColumns * kRomDriverT;
    finish(t, logic, 0, m.hidden * in.recipe.rom_bits_per_weight(m.hidden) * e.rom_bit);
    tiles.push_back(t);
  }

  const int64_t positions = kv_positions_per_cycle(kv_tokens);
  const double kv_bits_per_position = 2.0 * kv_width * kKvBitsPerElement;
  for (int64_t l = 0; l < m.layers; ++l) {
    Tile t = empty_tile("layer " + std::to_string(l), l);
    double logic = 0, energy = 0;
    add_matrix(t, {m.hidden, q_width + 2 * kv_width, 1, 1}, true, logic, energy);
    add_matrix(t, {q_width, m.hidden, 1, 1}, true, logic, energy);
    if (m.experts > 1) add_matrix(t, {m.hidden, m.experts, 1, 1}, true, logic, energy);
    add_matrix(t, {m.hidden, 2 * m.ffn, m.experts, m.active_experts}, true, logic, energy);
    add_matrix(t, {m.ffn, m.hidden, m.experts, m.active_experts}, true, logic, energy);

    // Attention: K and V macros are read in parallel (online softmax), every macro one row
    // per cycle, and each position meets every query head of its group.
    t.kv_bits = static_cast<double>(kv_tokens) * kv_bits_per_position;
    const double macs = static_cast<double>(positions) * 2 * q_width;
    logic += macs * mac_transistors();
    energy += static_cast<double>(avg_context) * kv_bits_per_position * e.sram_bit;
    energy += static_cast<double>(avg_context) * 2 * q_width * e.mac8;

    // Activation buffers (double-buffered residual, attention and FFN vectors) and the
    // norm/RoPE/softmax/SiLU units.
    const double buffer_bits =
        (2.0 * m.hidden + 2.0 * m.ffn * m.active_experts + q_width + 2.0 * kv_width) *
        kActivationBits;
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
      logic += std::ceil(lora_params / kRomRows) * mac_transistors();
      energy += lora_params * (e.mac8 + kLoraBits * e.sram_bit);
    }
    finish(t, logic, lora_bits, energy);
    tiles.push_back(t);
  }

  {
    Tile t = empty_tile("head", -1);
    double logic = 0, energy = 0;
    add_matrix(t, {m.hidden, m.vocab, 1, 1}, !m.tied_embeddings, logic, energy);
    logic += kLayerMiscT;  // final norm and the argmax tree
    finish(t, logic, 0, energy);
    tiles.push_back(t);
  }
  return tiles;
}

}  // namespace etch::plan::detail
