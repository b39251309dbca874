// etch contract: the chip's numeric contract, version 2 (docs/chip-spec.md is its prose). What a
// hardwired-model chip computes, bit for bit: the weight formats and recipes, the widths of
// every register and accumulator, the ROM-bit count, the units a tile is built from, and one
// scalar reference function per arithmetic unit. The compile stage, the engines, the planner
// and the RTL all read this module; none keeps its own copy of a number defined here.
//
// Arithmetic rules for every unit below: integer operations are exact in the stated widths;
// every other operation is one IEEE-754 binary32 operation (round to nearest, ties to even,
// one rounding per operation, no fused multiply-add), evaluated in the order written. No unit
// uses binary64. Per-element work is integer, fixed point or a table lookup wherever the
// definition allows; binary32 appears where a hardware unit would be a small FP32 pipeline.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace etch::contract {

// Any change to what the chip computes bumps this (and the golden hashes of the engine tests).
inline constexpr int kVersion = 2;

// ---- Activations, KV cache, scales ----

// An activation vector is int16 codes with one binary32 scale: value_i = q_i * scale.
inline constexpr int kActivationBits = 16;
inline constexpr int32_t kActivationMax = 32767;
inline constexpr int kScaleBits = 32;  // every per-vector and per-position scale register
// The KV cache (SRAM) holds K (after RoPE) and V as activation vectors, one per layer,
// position and KV head: head_dim int16 codes and one binary32 scale.
inline constexpr int kKvBits = kActivationBits;
inline constexpr int kKvScaleBits = kScaleBits;
// SRAM bits of one token's K and V over all layers.
uint64_t kv_bits_per_token(int64_t layers, int64_t kv_heads, int64_t head_dim);

// ---- Weights ----

inline constexpr int64_t kTileRows = 64;  // rows sharing one level table and multiplier bank
inline constexpr int64_t kGroup = 32;     // columns per group multiplier (hc, hc8, fp4)
inline constexpr int64_t kInt8Group = 256;
inline constexpr int64_t kMaxGroup = 256;  // keeps a group's partial sum inside 32 bits
inline constexpr int kLevelBits = 8;       // a level-table entry (signed)
inline constexpr int kRowScaleBits = 16;   // fp16 row scale
inline constexpr int kGroupPartialBits = 32;
inline constexpr int kRowAccumulatorBits = 64;

enum class WeightFormat {
  kInt8,  // codes are the signed weights themselves; one group per row, multiplier 1
  kHc,    // K-bit codes indexing a per-tile table of int8 levels; 4-bit group multipliers
  kFp4,   // e2m1 codes (levels fixed: twice the e2m1 values); 3-bit power-of-two exponents
};
const char* format_name(WeightFormat format);

// One matrix's storage format: code width, group, multiplier code width, and whether its
// levels are fitted (ROM) or fixed by the format (wiring).
struct Format {
  WeightFormat kind = WeightFormat::kInt8;
  int bits = 8;
  int64_t group = kInt8Group;
  int multiplier_bits = 0;  // 0: every multiplier is 1
  bool fitted_levels = false;
  std::string name() const;  // "int8", "hc3", "fp4", ...
};
// The format of a kind and code width; throws Error for a combination the contract lacks
// (hc takes 2..6 and 8 bits, int8 8, fp4 4).
Format make_format(WeightFormat kind, int bits);

// The integer a multiplier code stands for: the code itself for hc, 2^code for fp4, 1 for int8.
int32_t multiplier_value(WeightFormat kind, uint32_t code);
// The fixed level of a code for formats without a fitted table (int8, hc8, fp4).
int8_t fixed_level(const Format& format, uint32_t code);

// Every ROM bit of a rows x cols matrix: codes (rows padded to a byte), fitted level tables,
// group multipliers and fp16 row scales. `etch info`, `etch build` and `etch plan` count with it.
uint64_t rom_bits(const Format& format, int64_t rows, int64_t cols);

// ---- Recipes: which format each matrix gets ----

struct Recipe {
  std::string name;         // as given to `etch build --recipe` and `etch plan --recipe`
  std::string description;  // one line for --help and reports
  Format base;              // every matrix starts here
  bool mixed = false;       // hc1: matrices may be upgraded to `upgrade` within a budget
  Format upgrade;
  double default_budget = 0;  // bits per weight, every ROM bit counted (mixed recipes)
};
// The one recipe table every command reads.
const std::vector<Recipe>& recipes();
// Throws Error naming the known recipes when `name` is not one.
const Recipe& find_recipe(std::string_view name);

// ---- The hardware of one tile (kTileRows rows x one group of inputs) ----

// Multiply-select-add: a bank of 2^K multipliers forms each input element's products with
// the tile's levels once; each weight's code selects one product; per row an adder tree sums
// the group; a multiplier-accumulator scales the partial by the group multiplier and adds it.
// Widths: 16 x 8-bit signed products (24 bits), a partial of 24 + ceil(log2 group) bits (at
// most kGroupPartialBits), the group multiplier's code width, kRowAccumulatorBits accumulators.
// int8 is built the same way, with a bank of its 256 fixed levels and 256:1 selectors, not a
// plain 16 x 8 multiplier per weight: one datapath for every format keeps one RTL generator
// and one planner count, and the bank's 256 products per input are shared by the tile's 64
// rows (4 constant multiplications per weight, each shifts and adds). The planner counts the
// 256:1 selectors this costs.
struct TileUnits {
  int64_t rows = kTileRows;
  int64_t group = 0;
  int64_t multipliers = 0;         // product bank: one per level per input element
  int multiplier_input_bits = 0;   // activation width
  int multiplier_weight_bits = 0;  // level width
  int product_bits = 0;
  int64_t selectors = 0;          // one per weight
  int64_t selector_inputs = 0;    // 2^K
  int64_t adder_trees = 0;        // one per row
  int64_t adder_tree_inputs = 0;  // the group
  int partial_bits = 0;           // adder-tree output
  int64_t group_macs = 0;         // one per row
  int group_multiplier_bits = 0;  // multiplier code width (0: no multiplier stage)
  int accumulator_bits = 0;
};
TileUnits tile_units(const Format& format);

// ---- Scalar reference units ----

// Activation quantizer. amax = max |x_i| (exact; NaN elements do not count); inv = 32767 / amax;
// amax == 0, or an amax so small (below about 2^-113) that inv overflows to infinity, gives
// q = 0 and scale 0; else q_i = clamp(round_even(x_i * inv), -32767, 32767), where a NaN
// product (a NaN x_i, or an infinite one times inv = 0) gives 0; scale = amax / 32767.
// Returns the scale. x and q have the same length.
float quantize(std::span<const float> x, std::span<int16_t> q);

// The exact integer dot product sum a_i * b_i in 64 bits: attention scores, the attention
// output sum, LoRA and RMSNorm's sum of squares use it.
int64_t dot(std::span<const int16_t> a, std::span<const int16_t> b);

// Multiply-select-add over one row: sum over groups g of multiplier[g] * (sum over j in g of
// x_j * levels[codes_j]), groups of `group` columns (the last may be short). codes holds one
// code per weight (unpacked); levels holds 2^bits entries. Exact in 64 bits.
int64_t msa_row(std::span<const int16_t> x, std::span<const uint8_t> codes,
                std::span<const int8_t> levels, std::span<const int32_t> multipliers,
                int64_t group);
// A matrix output element: float(acc) * (row_scale * x_scale).
float msa_output(int64_t acc, float row_scale, float x_scale);

// RMSNorm with weight w, quantized for the next matrix. (q, s) = quantize(x); ss = sum q_i^2
// (int64); a = float(ss) / float(n); b = a * (s * s); r = sqrt(b + eps); inv = 1 / r;
// g = s * inv; y_i = (float(q_i) * g) * w_i; returns quantize(y, out).
float rms_norm(std::span<const float> x, std::span<const float> w, float eps,
               std::span<int16_t> out);

enum class RopeLayout { kInterleaved, kHalfSplit };
// Rotates each pair (a, b) of every head of `vec` (heads x head_dim) by the position's table
// row: a' = a * cos_i - b * sin_i, b' = b * cos_i + a * sin_i. Pairs are (2i, 2i+1) when
// interleaved, (i, i + pairs) when half-split; cos and sin have one entry per pair.
void rope(std::span<float> vec, int64_t head_dim, std::span<const float> cos,
          std::span<const float> sin, RopeLayout layout);

// Attention score of a query (int16 codes q, scale sq) and one cached key (k, sk):
// float(dot) * (sq * sk) * inv_sqrt_dim, with dot exact in 64 bits and
// inv_sqrt_dim = attention_scale(head_dim) = 1 / sqrt(float(head_dim)).
float attention_score(std::span<const int16_t> q, float sq, std::span<const int16_t> k, float sk,
                      float inv_sqrt_dim);
float attention_scale(int64_t head_dim);

// The exp unit: e = round(2^16 * exp(d)) for d <= 0, by a table. u = round_even(d * kExpInput)
// as an integer (d * kExpInput in binary32; u below kExpFloor, d = -inf or NaN give e = 0, and
// u > 0 counts as 0); with m = -u,
// i = m >> kExpFractionBits, f = m & (2^kExpFractionBits - 1):
// e = (exp_table()[f] + (2^i >> 1)) >> i (round half up). Returns 0..65536.
inline constexpr int kExpFractionBits = 10;
inline constexpr float kExpInput = 1477.3197f;  // log2(e) * 2^kExpFractionBits, in binary32
inline constexpr int32_t kExpFloor = -(17 << kExpFractionBits);
inline constexpr int kExpOutputBits = 17;  // 0..65536
// exp_table()[f] = the integer nearest 2^(16 - f / 2^kExpFractionBits), f < 2^kExpFractionBits.
std::span<const uint32_t> exp_table();
uint32_t exp_unit(float d);

// Softmax and attention output of one head over `positions` cached values:
//   m = max score_j; e_j = exp_unit(score_j - m); S = sum e_j (int64);
//   w_j = float(e_j) * sv_j; (wq, ws) = quantize(w); acc_i = sum_j wq_j * v_ji (int64);
//   out_i = float(acc_i) * (ws / float(S)).
// v is positions x head_dim int16 codes (row j at v[j * v_stride]), sv their scales.
void attention_output(std::span<const float> scores, std::span<const int16_t> v, int64_t v_stride,
                      std::span<const float> sv, std::span<float> out);

// SwiGLU element: sig = 65536 / (65536 + float(exp_unit(-g))) for g >= 0, else
// sig = float(e) / (65536 + float(e)) with e = exp_unit(g); returns (g * sig) * u.
float swiglu(float g, float u);

// Residual add and bias add: x + y in binary32.
float add(float x, float y);

// LoRA path (adapters in SRAM): y_r += scale * (B (A x))_r with A (rank x cols) and
// B (rows x rank) int8 with binary32 per-row scales. x is the matrix's own quantized input
// (codes xq, scale xs): t_k = float(sum_j xq_j * A_kj) * (a_scale_k * xs); (tq, ts) =
// quantize(t); y_r = y_r + (float(sum_k tq_k * B_rk) * (b_scale_r * ts)) * scale.
void lora(std::span<const int16_t> xq, float xs, std::span<const int8_t> a,
          std::span<const float> a_scales, std::span<const int8_t> b,
          std::span<const float> b_scales, float scale, std::span<float> y);

}  // namespace etch::contract
