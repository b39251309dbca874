// etch plan: a power, performance, area and cost model of a hardwired-model chip (the
// reference architecture of DESIGN.md) at a process node, with multi-chip partitioning and
// the same model on GPUs for comparison. Every constant and how each figure follows from it
// is explained in docs/planner.md. The planner reads only a shape (ModelShape) and the bits
// per weight (Recipe), so it needs no weights.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace etch::import {
struct ModelConfig;
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

// How weights are stored in ROM. Most codes are `low_bits` wide, a `high_fraction` of the
// weights (the most sensitive) `high_bits`; each group of `group` weights carries a scale
// of `scale_bits` and each row a table of 2^bits levels of `level_bits` (non-uniform
// codes). ROM bits per weight count all of them.
struct Recipe {
  std::string name;
  int low_bits = 3;
  int high_bits = 6;
  double high_fraction = 0.0;
  int group = 64;
  int scale_bits = 8;
  int level_bits = 8;
  bool per_row_levels = true;  // false: codes are affine (uniform) or a fixed format (fp4)

  double rom_bits_per_weight(int64_t row_length) const;
};

std::vector<std::string> recipe_names();
Recipe find_recipe(std::string_view name);
// A recipe that averages `bpw` ROM bits per weight on 4096-wide rows by mixing two adjacent
// code widths, the way hc1 mixes 3 and 6 bits.
Recipe recipe_for_bpw(double bpw);

std::vector<int> node_names();

struct PlanInput {
  ModelShape model;
  int node_nm = 6;
  Recipe recipe = find_recipe("hc1");
  int64_t context = 2048;  // tokens per user the KV cache must hold (prompt + answer)
  int64_t users = 0;       // users the KV SRAM is sized for; 0: the default (see docs)
  int64_t kv_tokens = 0;   // KV SRAM capacity in tokens; 0: users x context
  int64_t lora_rank = 0;
  int64_t prompt_tokens = 1024;
  int64_t answer_tokens = 1024;
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
  double rom = 0;
  double logic = 0;
  double sram = 0;
  double total() const { return rom + logic + sram; }
  Transistors& operator+=(const Transistors& o);
};

// One layer's (or the head's) hardware: its own ROM, lanes and KV SRAM.
struct Tile {
  std::string name;
  int64_t first_layer = -1;  // -1: embedding or head tile
  double weights = 0;
  double rom_bits = 0;
  double lanes = 0;  // select-add slices working in parallel
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
  double power_w = 0;  // chip power at full load
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

struct Power {
  double dynamic_w = 0;  // all chips, at full load
  double leakage_w = 0;
  double io_w = 0;
  double chip_w = 0;   // per chip
  double card_w = 0;   // per card (one chip per card): chip through its regulators, plus board
  double power_w = 0;  // per card as deployed: the card and its share of the host server
  double total_w = 0;  // all cards as deployed
  double energy_per_token_j = 0;  // as deployed, at full load
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
  int64_t batch = 0;                  // full load: the most users its memory holds
  double tokens_per_second_aggregate = 0;
  double energy_per_token_j = 0;  // at full load
  double per_million_tokens_usd = 0;
  double chip_speedup_per_user = 0;  // etched chip tokens/s per user / GPU's
  double chip_energy_advantage = 0;  // GPU J/token / chip J/token
  double chip_cost_advantage = 0;    // GPU $/Mtok / chip $/Mtok
};

struct Plan {
  PlanInput input;
  double rom_bits_per_weight = 0;
  double reticle_mm2 = 0;
  std::vector<Chip> chips;
  Area area;  // all chips
  Transistors transistors;
  Timing timing;
  Power power;
  Cost cost;
  std::vector<GpuComparison> gpus;

  int chip_count() const { return static_cast<int>(chips.size()); }
  // Per-chip figures (the largest chip where there are several).
  double die_area_mm2() const;
  double die_transistors() const;
};

Plan make_plan(const PlanInput& input);

std::string render_text(const Plan& plan);
std::string render_json(const Plan& plan);
std::string render_svg(const Plan& plan);

// `spec` is PARAM=v1,v2,... with PARAM one of node, bpw, context, users. The KV SRAM of the
// base design is kept when context varies, so the sweep shows how many users fit.
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
