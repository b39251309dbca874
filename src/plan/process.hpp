// Process nodes and the circuit constants of the reference architecture. Each number is
// explained, with its source, in docs/planner.md; the comments here say only what it is.
#pragma once

#include <cstdint>

namespace etch::plan::detail {

struct Node {
  int nm;
  double cpp_nm;         // contacted poly pitch
  double mp_nm;          // tightest metal pitch
  double sram_cell_um2;  // high-density 6T bit cell
  double logic_mtr_mm2;  // foundry peak logic density (NAND2/scan-flop mix)
  double vdd;
  double energy_scale;  // energy per operation relative to 45 nm
  double clock_ghz;     // sustained clock of a dense datapath at this node
  double leak_nw;       // leakage per logic transistor at operating temperature
  double wafer_usd;     // 300 mm wafer price
  double d0_per_cm2;    // defect density for the yield model
  double via_mask_usd;  // one via-layer mask
  double io_mm2;        // PCIe Gen5 x16 host interface (PHY and controller)
};

const Node& find_node(int nm);

// Reference-architecture constants (the estimates among them are in plan::Estimates).
inline constexpr int64_t kRomColumns = 1024;       // bitlines per ROM wordline
inline constexpr double kRomBitlineCellFf = 0.06;  // bitline load per cell at 57 nm CPP
inline constexpr double kSramMacroEfficiency = 0.70;
inline constexpr int64_t kSramRows = 512;    // rows per KV SRAM macro (high-density)
inline constexpr int kLoraBits = 8;          // contract::lora's A and B are int8
inline constexpr int kResidualBits = 32;     // the residual stream is binary32 (contract::add)
inline constexpr double kChipLinkMm2 = 6.0;  // one chip-to-chip SerDes link

// Transistors of the circuits the datapath is built from (static CMOS).
inline constexpr double kAndT = 6;         // NAND2 and inverter
inline constexpr double kHalfAdderT = 14;  // XOR (8) and AND (6)
inline constexpr double kFullAdderT = 28;
inline constexpr double kCompressorT = 48;  // 4:2 compressor: removes two operand bits
inline constexpr double kFlopT = 24;
inline constexpr double kMux2T = 4;       // transmission-gate pair per bit, select shared
inline constexpr double kRomSenseT = 12;  // per bitline: sense inverter and output latch
inline constexpr double kRomDriverT = 4;  // per wordline
inline constexpr double kSramPeripheryShare =
    0.05;                                     // SRAM periphery transistors per cell transistor
inline constexpr double kLayerMiscT = 1.0e6;  // norm, RoPE, softmax and SiLU units of a layer

// Energy per operation at 45 nm, 0.9 V (Horowitz, ISSCC 2014), in joules. An array
// multiplier's energy grows with its partial products: m x n bits cost kMult8J * m * n / 64.
inline constexpr double kAdd16J = 0.05e-12;
inline constexpr double kMult8J = 0.2e-12;
inline constexpr double kAdd32J = 0.1e-12;
inline constexpr double kSram8kBitJ = 10e-12 / 64;  // 64-bit read of an 8 KB SRAM

// Card and system: the first hardwired chip's published server, ten cards in 2.5 kW, each card
// about 200 W, so the host (CPUs, DRAM, NICs, fans) draws 500 W, 50 W per card.
inline constexpr double kServerW = 2500;
inline constexpr double kCardsPerServer = 10;
inline constexpr double kPublishedCardW = 200;
inline constexpr double kHostShareW =
    (kServerW - kCardsPerServer * kPublishedCardW) / kCardsPerServer;
inline constexpr double kHostInterfaceW = 6;
inline constexpr double kChipLinkW = 2;

inline constexpr double kLinkLatencyS = 150e-9;  // one chip-to-chip hop
inline constexpr double kLinkBytesPerS = 100e9;

}  // namespace etch::plan::detail
