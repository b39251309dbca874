// etch plan: a power, performance, area and cost model of a hardwired-model chip (the
// reference architecture of DESIGN.md) at a process node, with multi-chip partitioning and
// the same model on GPUs for comparison. Every constant and how each figure follows from it
// is explained in docs/planner.md. The planner reads a shape (ModelShape) and the contract
// format of every weight matrix (Weights): from a .etch artifact, or a recipe applied to the
// shape, so it needs no weights.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "contract/contract.hpp"

namespace etch::import {
struct ModelConfig;
}
namespace etch::compile {
struct EtchModel;
}

namespace etch::plan {

// The shape of a Llama-family decoder. A mixture-of-experts model has `experts` FFN copies
// of which `active_experts` run per token (ffn is then the per-expert width).
struct ModelShape {
  std::string name;
  int64_t vocab = 0;
  int64_t hidden = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t ffn = 0;
  int64_t experts = 1;
  int64_t active_experts = 1;
  bool tied_embeddings = false;
  bool qkv_bias = false;
  int64_t max_context = 0;

  int64_t attention_params() const;  // per layer: q, k, v, o
  int64_t ffn_params() const;        // per layer, all experts (and the router)
  int64_t active_ffn_params() const;
  int64_t embedding_params() const;
  int64_t head_params() const;  // 0 when tied: the head reads the embedding ROM
  int64_t total_params() const;
  int64_t active_params() const;  // read per token
  // KV-cache elements per token over all layers (keys and values).
  int64_t kv_elements_per_token() const { return 2 * layers * kv_heads * head_dim; }
};

const std::vector<ModelShape>& presets();
// Throws Error listing the known names when `name` is not one.
const ModelShape& find_preset(std::string_view name);
ModelShape shape_from_config(const import::ModelConfig& config, std::string name);

// One weight matrix as the chip stores it: its shape and its contract format.
struct WeightMatrix {
  std::string name;    // as a .etch names it: token_embd, blk.N.attn_q, ..., output
  int64_t layer = -1;  // -1: the embedding or the head
  contract::Format format;
  int64_t rows = 0;    // outputs
  int64_t cols = 0;    // inputs
  int64_t copies = 1;  // experts stored
  int64_t active = 1;  // experts read per token

  uint64_t weights() const;
  uint64_t rom_bits() const;  // contract::rom_bits of every copy
};

// Every matrix the chip stores, in forward order: token_embd, each layer's attn_q, attn_k,
// attn_v, attn_output, (ffn_gate_inp,) ffn_gate, ffn_up, ffn_down, then output.
struct Weights {
  std::string recipe;  // the contract recipe applied; empty for a .etch artifact
  std::string label;   // for reports: the recipe with its budget, or the artifact's recipe
  std::vector<WeightMatrix> matrices;

  uint64_t weights() const;
  uint64_t rom_bits() const;  // every ROM bit, as `etch info` counts a .etch file
};

// The recipe (contract::find_recipe) applied to each matrix of the shape. A mixed recipe
// (hc1) upgrades whole matrices within `budget` ROM bits per weight (0: the recipe's default),
// the way `etch build` does, but without weights to rank them: docs/planner.md, "Recipes".
Weights weights_for_recipe(const ModelShape& shape, std::string_view recipe, double budget = 0);
// The artifact's own matrices, formats and bits.
Weights weights_of_etch(const compile::EtchModel& model);

std::vector<int> node_names();

// The circuit that makes each weight's code select its product from the tile's bank (what
// contract::tile_units computes is the same for both; docs/planner.md, "Circuits").
enum class Circuit {
  // K one-transistor ROM bits per weight on 512-cell bitlines, sensed, and a digital 2^K:1
  // selector of 24-bit products per weight slot; bit-parallel, one tile per cycle.
  kDigitalSelect,
  // One ROM transistor per weight whose via connects it to one of the 2^K product lines (the
  // public reading of the first hardwired chip). A transistor passes one bit per read, so the
  // products stream through the cells bit-serially into bit-serial adder trees.
  kCellSelect,
};
const char* circuit_name(Circuit circuit);  // "digital-select", "cell-select"
// Throws Error naming the known circuits when `name` is not one.
Circuit find_circuit(std::string_view name);

// Gate counts of the RTL library's tile (src/rtl/sv/msa_tile.sv) synthesized by Yosys, per unit
// of contract::tile_units, in NAND2 equivalents: the table src/rtl/synth/synth_table.py writes
// (the committed one is src/plan/synth-table.json; docs/planner.md, "Synthesized datapaths").
// With one, the digital-select datapath is counted from it instead of the hand-written circuits.
struct SynthTile {
  double nand2_per_product = 0;  // one bank product: x_j * level_l
  double nand2_per_weight = 0;   // one weight slot: its selector and its input to the row's sum
  double nand2_per_row = 0;      // one row: group multiplier, 64-bit accumulator and register
};
struct SynthTable {
  std::string path;  // the file read, for messages and reports
  std::string yosys;
  std::string date;
  double transistors_per_nand2 = 0;
  std::map<std::string, SynthTile> tiles;  // by contract format name (hc3, hc6, fp4, int8)
};
// Reads a table and checks it: every tile's parameters are its contract format's
// (contract::make_format) and every count is positive and finite. Throws Error naming the file
// and the problem.
SynthTable read_synth_table(const std::string& path);
SynthTable parse_synth_table(std::string_view json_text, const std::string& path);

// Bounds on a plan's inputs, so that an infeasible request is one line saying why rather than
// a system of millions of chips: a 16M-token context, 65536 users, and 2^27 KV tokens in all
// (already terabytes of KV SRAM for a model of a few billion parameters).
constexpr int64_t kMaxContext = int64_t{1} << 24;
constexpr int64_t kMaxUsers = int64_t{1} << 16;
constexpr int64_t kMaxKvTokens = int64_t{1} << 27;

// The planner's engineering estimates: constants that no public source fixes. Each has the
// range docs/planner.md argues for (estimate_table); make_plan reads them from its input, so
// the ranges it reports and the sensitivity table re-run the same model with one moved.
struct Estimates {
  double rom_rows = 512;            // cells per ROM bitline: the cycles of a matrix-vector product
  double clock_scale = 1.0;         // x the node's sustained datapath clock
  double logic_utilisation = 0.60;  // placed density / peak library density
  double overhead_fraction = 0.12;  // power grid, clock spine, whitespace, of the blocks
  double rom_array_efficiency = 0.90;  // cells / ROM array area (straps, taps, edge cells)
  double rom_cell_pitches = 3;         // metal pitches across a one-bit ROM cell
  double line_layers = 4;              // routing layers over a ROM array for level or product lines
  double leakage_scale = 1.0;          // x the node's leakage per logic transistor
  double rom_leak_share = 0.10;        // a ROM cell's leakage / a logic transistor's
  double sram_leak_share = 0.02;       // an SRAM transistor's leakage / a logic transistor's
  double energy_scale = 1.0;           // x the node's energy per operation
  double clock_tree_share = 0.30;      // clock tree and wires, of the datapath's dynamic power
  double regulator_efficiency = 0.88;
  double board_w = 10;  // fans, PCIe retimer, management controller, board losses
};

// One estimate: where it lives, its range, and the physical bound a x2 must respect.
struct EstimateInfo {
  const char* key;
  const char* what;
  double Estimates::*member;
  double low;
  double high;
  double bound;  // largest meaningful value (1 for a fraction)
};
const std::vector<EstimateInfo>& estimate_table();

// Bits one ROM transistor holds: 1 (a NOR cell) to 4 (multi-level cells, as the first
// hardwired chip's designers describe theirs; docs/planner.md, "Multi-bit ROM cells").
constexpr int kMaxRomBitsPerTransistor = 4;

struct PlanInput {
  ModelShape model;
  int node_nm = 6;
  Weights weights;         // of `model`: weights_for_recipe or weights_of_etch
  int64_t context = 2048;  // tokens per user the KV cache must hold (prompt + answer)
  int64_t users = 0;       // users the KV SRAM is sized for; 0: the default (see docs)
  int64_t kv_tokens = 0;   // KV SRAM capacity in tokens; 0: users x context
  int64_t lora_rank = 0;
  Circuit circuit = Circuit::kDigitalSelect;
  int64_t prompt_tokens = 1024;
  int64_t answer_tokens = 1024;
  int rom_bits_per_transistor = 1;
  Estimates estimates;
  // The tile datapaths from synthesis instead of the hand-written circuits (digital-select
  // only: the RTL's tile is that circuit).
  std::optional<SynthTable> synth;
};

struct Area {
  double rom = 0;       // ROM arrays (cells and their straps)
  double compute = 0;   // select/add lanes, multiplier banks, attention, ROM periphery
  double kv_sram = 0;   // KV cache
  double sram = 0;      // LoRA adapters and activation buffers
  double io = 0;        // host interface and chip-to-chip links
  double overhead = 0;  // power grid, clock spine, whitespace
  double total() const { return rom + compute + kv_sram + sram + io + overhead; }
  Area& operator+=(const Area& o);
};

struct Transistors {
  double rom = 0;  // ROM cells: one per ROM bit, or per weight code where the cell selects
  double logic = 0;
  double sram = 0;
  double datapath = 0;  // of logic: the tile datapaths (multiply-select-add)
  double total() const { return rom + logic + sram; }
  Transistors& operator+=(const Transistors& o);
};

// One layer's (or the head's) hardware: its own ROM, lanes and KV SRAM.
struct Tile {
  std::string name;
  int64_t first_layer = -1;  // -1: embedding or head tile
  double weights = 0;
  double rom_bits = 0;
  // Tile datapaths working in parallel: each is the hardware of one contract tile
  // (contract::tile_units) and computes one tile per cycle. The unit counts below are the
  // datapaths' units summed.
  double datapaths = 0;
  double multipliers = 0;  // product banks
  double selectors = 0;    // the weights' selections: muxes, or the ROM cells themselves
  double adder_trees = 0;
  double group_macs = 0;
  double kv_bits = 0;
  Area area;
  Transistors transistors;
  int64_t cycles = 0;   // per token at the average context
  double energy_j = 0;  // dynamic energy per token
};

struct Chip {
  int index = 0;
  int64_t first_layer = 0;
  int64_t end_layer = 0;  // exclusive
  bool embedding = false;
  bool head = false;
  std::vector<Tile> tiles;
  Area area;
  Transistors transistors;
  double width_mm = 0;
  double height_mm = 0;
  double power_w = 0;  // chip power at the plan's load
};

struct Timing {
  double clock_hz = 0;
  int64_t rom_rows = 0;          // wordlines per ROM bitline: cycles per matrix-vector product
  int64_t cycles_per_layer = 0;  // at the average context of the request
  int64_t cycles_per_token = 0;  // all chips, without the links
  int64_t pipeline_stages = 0;
  double link_latency_s = 0;              // all chip-to-chip hops of one token
  double latency_s = 0;                   // one token through the whole model
  double tokens_per_second_per_user = 0;  // answer tokens / decode time (1k/1k request)
  double request_seconds = 0;             // prefill + decode of one request
  int64_t kv_tokens = 0;
  int64_t users_max = 0;        // concurrent users at the context
  int64_t users_in_flight = 0;  // min(users_max, pipeline stages)
  double tokens_per_second_aggregate = 0;
};

// Power at the plan's load: its users in flight (Timing::users_in_flight), each decoding.
struct Power {
  double dynamic_w = 0;  // all chips: the datapaths' switching
  double clock_w = 0;    // all chips: clock tree and wires, gated with the datapaths
  double leakage_w = 0;
  double io_w = 0;
  double chip_w = 0;   // per chip
  double card_w = 0;   // per card (one chip per card): chip through its regulators, plus board
  double power_w = 0;  // per card as deployed: the card and its share of the host server
  double total_w = 0;  // all cards as deployed
  double energy_per_token_j = 0;  // as deployed, at the plan's load
  double tokens_per_joule = 0;
};

struct Cost {
  double wafer_usd = 0;
  double dies_per_wafer = 0;
  double yield = 0;
  double die_usd = 0;       // per good die
  double card_usd = 0;      // die, package, test, board
  double system_usd = 0;    // all cards plus their share of a host server
  double mask_nre_usd = 0;  // the two model-specific via masks of every distinct die
  double per_million_tokens_usd = 0;
};

struct GpuComparison {
  std::string gpu;
  std::string format;                 // bf16, fp8, 4-bit
  int64_t gpus = 0;                   // needed to hold the weights
  double tokens_per_second_user = 0;  // batch 1
  int64_t batch = 0;                  // its best throughput: the most users its memory holds
  double tokens_per_second_aggregate = 0;
  double energy_per_token_j = 0;  // at `batch`
  double per_million_tokens_usd = 0;
  // At the chip's load: as many users as the chip has in flight (at most `batch`).
  int64_t same_users = 0;
  double same_users_tokens_per_second_aggregate = 0;
  double same_users_energy_per_token_j = 0;
  double same_users_per_million_tokens_usd = 0;
  double chip_speedup_per_user = 0;  // etched chip tokens/s per user / GPU's
  // GPU J/token / chip J/token, and $/Mtok likewise: at the same users, and each at its best
  // throughput (the GPU at `batch`; the chip's best is its plan: every user its KV SRAM holds
  // in flight, up to one per pipeline stage).
  double chip_energy_advantage_same_users = 0;
  double chip_cost_advantage_same_users = 0;
  double chip_energy_advantage = 0;
  double chip_cost_advantage = 0;
};

// A figure at the expected values of the estimates and low and high over their ranges: each
// estimate moved alone to either end of its range, the changes of the figure combined in
// root-sum-square (docs/planner.md, "Estimates and their ranges").
struct FigureRange {
  double low = 0;
  double expected = 0;
  double high = 0;
};

// The model's figures over all its chips (a die's figures jump where an estimate changes the
// chip count; the model's do not).
struct Ranges {
  FigureRange area_mm2;  // all dies
  FigureRange transistors;
  FigureRange chips;
  FigureRange tokens_per_second_per_user;
  FigureRange tokens_per_second_aggregate;
  FigureRange cards_w;     // all cards
  FigureRange deployed_w;  // all cards as deployed
  FigureRange energy_per_token_j;
};

struct Plan {
  PlanInput input;
  uint64_t rom_bits = 0;       // every ROM bit of the weights (Weights::rom_bits)
  double bits_per_weight = 0;  // rom_bits over the stored weights, as `etch info` reports
  double reticle_mm2 = 0;
  std::vector<Chip> chips;
  Area area;  // all chips
  Transistors transistors;
  Timing timing;
  Power power;
  Cost cost;
  std::vector<GpuComparison> gpus;
  Ranges ranges;

  int chip_count() const { return static_cast<int>(chips.size()); }
  // Per-chip figures (the largest chip where there are several).
  double die_area_mm2() const;
  double die_transistors() const;
};

Plan make_plan(const PlanInput& input);

// How each figure moves when one estimate is halved or doubled (within its bound): the rows of
// docs/planner.md's sensitivity table.
struct SensitivityRow {
  const EstimateInfo* estimate;
  double half_value;
  double double_value;
  Ranges half;  // relative change of each figure: (figure at the value / expected) - 1
  Ranges twice;
};
std::vector<SensitivityRow> sensitivity(const PlanInput& input);
std::string render_sensitivity(const PlanInput& input, const std::vector<SensitivityRow>& rows);

std::string render_text(const Plan& plan);
std::string render_json(const Plan& plan);
std::string render_svg(const Plan& plan);

// `spec` is PARAM=v1,v2,... with PARAM one of node, bpw (the mixed recipe's budget), context,
// users. The KV SRAM of the base design is kept when context varies, so the sweep shows how
// many users fit.
struct SweepSpec {
  std::string param;
  std::vector<std::string> values;  // as given, each checked for its parameter
};
// Checks the syntax, the parameter's name and every value (an argument error, before any work).
SweepSpec parse_sweep(std::string_view spec);
struct Sweep {
  std::string param;
  std::vector<std::string> values;
  std::vector<Plan> plans;
};
Sweep run_sweep(const PlanInput& base, std::string_view spec);
std::string render_sweep_text(const Sweep& sweep);
std::string render_sweep_json(const Sweep& sweep);
std::string render_sweep_svg(const Sweep& sweep);

}  // namespace etch::plan
