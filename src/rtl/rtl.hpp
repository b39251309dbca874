// etch rtl: the chip of one .etch model as SystemVerilog, and its co-simulation against the
// integer engine. The design is the fixed library (src/rtl/sv, copied verbatim) and a small
// per-model part: a top level with the model's shapes and the weights as ROM files
// ($readmemh), laid out as src/rtl/sv/etch_core.sv and etch_weights.sv describe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compile/compile.hpp"
#include "contract/contract.hpp"

namespace etch::rtl {

// Element lanes by default: enough to make the element-wise steps small next to the products
// at the planner's tiling (docs/rtl.md), few enough to keep the Verilator model small.
constexpr int64_t kDefaultElementLanes = 16;
// The most element lanes a design takes (each one a copy of the element-wise units).
constexpr int64_t kMaxElementLanes = 64;

struct DesignOptions {
  // Rows of a tile; a power of two dividing contract::kTileRows.
  int64_t tile_rows = contract::kTileRows;
  // Tiles side by side per weight format, each on its rows of one block of tile_rows x tiles
  // rows; 0: the planner's tiling (etch plan's datapaths per matrix, the most any matrix has).
  int64_t tiles = 0;
  // Product rows finished per cycle (output units side by side); divides the block's rows.
  // 0: the whole block at once.
  int64_t lanes = 0;
  // Elements per cycle of the element-wise steps (quantizer passes, RMSNorm's element pass,
  // RoPE pairs, SwiGLU, attention value outputs), each lane a copy of the library's units.
  int64_t element_lanes = kDefaultElementLanes;
  // Columns per group of int8 matrices. Their multipliers are all 1, so any power of two up to
  // contract::kInt8Group gives the same sums; a small one keeps simulation models small.
  int64_t int8_group = contract::kInt8Group;
  // Positions of the KV-cache SRAM and the RoPE tables; 0: min(the model's, 2048).
  int64_t context = 0;
};

struct Design {
  std::string top;                 // the top module's name
  std::vector<std::string> files;  // every file written, relative to the design folder
  int64_t context = 0;
  int64_t tiles = 0, lanes = 0;  // as built (DesignOptions' defaults resolved)
};

// Writes the design of `model` into `dir` (created if missing): sv/ (library and top), rom/
// (the ROM contents) and README.md. Throws Error for options the model cannot take.
Design write_design(const compile::EtchModel& model, const std::string& dir,
                    const DesignOptions& options);

struct CosimOptions {
  std::vector<int32_t> prompt;
  int64_t generate = 4;
  std::function<void(const std::string&)> log;  // progress lines; empty: quiet
};

struct CosimResult {
  bool bit_exact = false;
  int64_t tokens = 0;  // tokens simulated (prompt and generated tokens fed back)
  std::vector<int32_t> generated_ids;
  double cycles_per_token = 0;
  double build_seconds = 0, simulation_seconds = 0;
  std::string mismatch;  // the first mismatch in words; empty when bit-exact
};

// Builds `design` (in `dir`) with Verilator and a testbench, feeds the prompt and generates
// greedily in simulation, and compares every layer's residual stream and every logit with
// run::IntegerEngine bit for bit.
CosimResult cosimulate(const compile::EtchModel& model, const std::string& dir,
                       const Design& design, const CosimOptions& options);

}  // namespace etch::rtl
