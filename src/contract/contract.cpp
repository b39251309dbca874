// Contract v2: weight formats, recipes, ROM bits and the units of one tile.
#include <bit>

#include "contract/contract.hpp"
#include "core/error.hpp"

namespace etch::contract {

namespace {

constexpr int kHcMultiplierBits = 4;
constexpr int kFp4ExponentBits = 3;
// e2m1 magnitudes times two, so that every fp4 value is an integer level.
constexpr int8_t kFp4Levels[8] = {0, 1, 2, 3, 4, 6, 8, 12};

// Signed 16-bit activations times signed 8-bit levels.
constexpr int kProductBits = kActivationBits + kLevelBits;

constexpr int ceil_log2(int64_t n) {
  return n <= 1 ? 0 : std::bit_width(static_cast<uint64_t>(n - 1));
}
static_assert(kProductBits + ceil_log2(kMaxGroup) <= kGroupPartialBits);

}  // namespace

uint64_t kv_bits_per_token(int64_t layers, int64_t kv_heads, int64_t head_dim) {
  const auto vector_bits = static_cast<uint64_t>(head_dim) * kKvBits + kKvScaleBits;
  return 2 * static_cast<uint64_t>(layers) * static_cast<uint64_t>(kv_heads) * vector_bits;
}

const char* format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::kInt8:
      return "int8";
    case WeightFormat::kHc:
      return "hc";
    case WeightFormat::kFp4:
      return "fp4";
  }
  return "?";
}

std::string Format::name() const {
  if (kind == WeightFormat::kHc) return "hc" + std::to_string(bits);
  return format_name(kind);
}

Format make_format(WeightFormat kind, int bits) {
  Format f;
  f.kind = kind;
  f.bits = bits;
  switch (kind) {
    case WeightFormat::kInt8:
      if (bits != 8) break;
      f.group = kInt8Group;
      f.multiplier_bits = 0;
      f.fitted_levels = false;
      return f;
    case WeightFormat::kHc:
      if (!((bits >= 2 && bits <= 6) || bits == 8)) break;
      f.group = kGroup;
      f.multiplier_bits = kHcMultiplierBits;
      // hc8's 256 levels are the integers -127..127, so no table needs fitting.
      f.fitted_levels = bits < 8;
      return f;
    case WeightFormat::kFp4:
      if (bits != 4) break;
      f.group = kGroup;
      f.multiplier_bits = kFp4ExponentBits;
      f.fitted_levels = false;
      return f;
  }
  fail("contract v{} has no {}-bit {} format (hc takes 2..6 and 8 bits, int8 8, fp4 4)", kVersion,
       bits, format_name(kind));
}

int32_t multiplier_value(WeightFormat kind, uint32_t code) {
  switch (kind) {
    case WeightFormat::kInt8:
      return 1;
    case WeightFormat::kHc:
      return static_cast<int32_t>(code);
    case WeightFormat::kFp4:
      return int32_t{1} << code;
  }
  return 1;
}

int8_t fixed_level(const Format& format, uint32_t code) {
  if (format.fitted_levels)
    fail("{} levels are fitted per tile, not fixed by the format", format.name());
  if (code >> format.bits != 0)
    fail("code {} does not fit {} ({} bits)", code, format.name(), format.bits);
  switch (format.kind) {
    case WeightFormat::kInt8:
      return static_cast<int8_t>(static_cast<uint8_t>(code));
    case WeightFormat::kHc:  // hc8: code - 128, with -128 folded onto -127 (symmetric range)
      return static_cast<int8_t>(code == 0 ? -127 : static_cast<int32_t>(code) - 128);
    case WeightFormat::kFp4:
      return static_cast<int8_t>(code < 8 ? kFp4Levels[code] : -kFp4Levels[code - 8]);
  }
  return 0;
}

uint64_t rom_bits(const Format& format, int64_t rows, int64_t cols) {
  const auto r = static_cast<uint64_t>(rows), c = static_cast<uint64_t>(cols);
  const uint64_t row_code_bits = (c * static_cast<uint64_t>(format.bits) + 7) / 8 * 8;
  const uint64_t tiles = (r + kTileRows - 1) / kTileRows;
  const uint64_t groups =
      (c + static_cast<uint64_t>(format.group) - 1) / static_cast<uint64_t>(format.group);
  // Level tables are ROM only where they are fitted; fixed levels are wiring.
  const uint64_t table_bits =
      format.fitted_levels ? tiles * (uint64_t{1} << format.bits) * kLevelBits : 0;
  return r * row_code_bits + table_bits +
         r * groups * static_cast<uint64_t>(format.multiplier_bits) + r * kRowScaleBits;
}

const std::vector<Recipe>& recipes() {
  static const std::vector<Recipe> table = [] {
    std::vector<Recipe> t;
    const Format hc3 = make_format(WeightFormat::kHc, 3), hc6 = make_format(WeightFormat::kHc, 6);
    t.push_back(
        {"hc1",
         "3-bit hc codes, each matrix widened to 4, 5 or 6 bits by the loss it causes, within a "
         "budget",
         hc3, true, hc6, 3.5});
    for (int bits : {2, 3, 4, 5, 6, 8}) {
      const Format f = make_format(WeightFormat::kHc, bits);
      t.push_back({f.name(),
                   bits == 8
                       ? "8-bit hc codes on the fixed levels -127..127, 4-bit group multipliers"
                       : std::to_string(bits) +
                             "-bit hc codes into fitted per-tile levels, 4-bit group "
                             "multipliers",
                   f, false, f, 0});
    }
    const Format int8 = make_format(WeightFormat::kInt8, 8);
    t.push_back({"int8", "signed 8-bit weights with an fp16 row scale", int8, false, int8, 0});
    const Format fp4 = make_format(WeightFormat::kFp4, 4);
    t.push_back(
        {"fp4", "e2m1 codes with 3-bit power-of-two exponents per 32 columns", fp4, false, fp4, 0});
    return t;
  }();
  return table;
}

const Recipe& find_recipe(std::string_view name) {
  std::string known;
  for (const Recipe& r : recipes()) {
    if (r.name == name) return r;
    known += (known.empty() ? "" : ", ") + r.name;
  }
  fail("unknown recipe '{}' (known: {})", name, known);
}

TileUnits tile_units(const Format& format) {
  TileUnits t;
  const int64_t levels = int64_t{1} << format.bits;
  t.rows = kTileRows;
  t.group = format.group;
  t.multipliers = levels * format.group;
  t.multiplier_input_bits = kActivationBits;
  t.multiplier_weight_bits = kLevelBits;
  t.product_bits = kProductBits;
  t.selectors = kTileRows * format.group;
  t.selector_inputs = levels;
  t.adder_trees = kTileRows;
  t.adder_tree_inputs = format.group;
  t.partial_bits = kProductBits + ceil_log2(format.group);
  t.group_macs = kTileRows;
  t.group_multiplier_bits = format.multiplier_bits;
  t.accumulator_bits = kRowAccumulatorBits;
  return t;
}

}  // namespace etch::contract
