// Weight formats as ROM bits: codes, scales and level tables, counted honestly.
#include <fmt/format.h>

#include <cmath>

#include "core/error.hpp"
#include "plan/plan.hpp"

namespace etch::plan {

namespace {

// Rows of 4096 weights: the hidden width of the calibration model, used where a recipe
// is quoted as a single bits-per-weight figure.
constexpr int64_t kQuotedRow = 4096;

Recipe uniform(int bits) {
  Recipe r;
  r.name = "hc" + std::to_string(bits);
  r.low_bits = bits;
  r.high_bits = bits;
  return r;
}

}  // namespace

double Recipe::rom_bits_per_weight(int64_t row_length) const {
  const double codes = low_bits * (1 - high_fraction) + high_bits * high_fraction;
  const double scales = group > 0 ? static_cast<double>(scale_bits) / group
                                  : static_cast<double>(scale_bits) / row_length;
  double levels = 0;
  if (per_row_levels) {
    const double entries = std::ldexp(1.0, low_bits) * (1 - high_fraction) +
                           std::ldexp(1.0, high_bits) * high_fraction;
    levels = entries * level_bits / row_length;
  }
  return codes + scales + levels;
}

std::vector<std::string> recipe_names() {
  return {"hc1", "hc2", "hc3", "hc4", "hc5", "hc6", "hc8", "fp4", "int8"};
}

Recipe find_recipe(std::string_view name) {
  if (name == "hc1") {
    // Most weights at 3 bits, the most sensitive 11% at 6 bits: 3.48 ROM bits per weight
    // with 8-bit scales per 64 weights and 8-bit level tables per row.
    Recipe r = uniform(3);
    r.name = "hc1";
    r.high_bits = 6;
    r.high_fraction = 0.11;
    return r;
  }
  if (name == "fp4") {
    // e2m1 codes with an 8-bit power-of-two scale per 32 (OCP MX): fixed levels, no table.
    Recipe r = uniform(4);
    r.name = "fp4";
    r.group = 32;
    r.per_row_levels = false;
    return r;
  }
  if (name == "int8") {
    Recipe r = uniform(8);
    r.name = "int8";
    r.group = 0;  // one 16-bit scale per row
    r.scale_bits = 16;
    r.per_row_levels = false;
    return r;
  }
  if (name.size() >= 3 && name.substr(0, 2) == "hc") {
    const std::string digits(name.substr(2));
    if (digits.size() == 1 && digits[0] >= '2' && digits[0] <= '8') return uniform(digits[0] - '0');
  }
  std::string known;
  for (const auto& n : recipe_names()) known += (known.empty() ? "" : ", ") + n;
  fail("unknown recipe '{}' (known: {})", name, known);
}

Recipe recipe_for_bpw(double bpw) {
  const double lowest = uniform(2).rom_bits_per_weight(kQuotedRow);
  const double highest = uniform(8).rom_bits_per_weight(kQuotedRow);
  if (!(bpw >= lowest && bpw <= highest))
    fail("--bpw {} is outside what the hc formats store ({:.2f} to {:.2f} bits per weight)", bpw,
         lowest, highest);
  for (int k = 2; k < 8; ++k) {
    Recipe low = uniform(k);
    Recipe high = uniform(k + 1);
    const double a = low.rom_bits_per_weight(kQuotedRow);
    const double b = high.rom_bits_per_weight(kQuotedRow);
    if (bpw > b) continue;
    Recipe r = low;
    r.high_bits = k + 1;
    // Level tables grow with 2^bits, so solve for the fraction on the quoted row exactly.
    r.high_fraction = (bpw - a) / (b - a);
    r.name = fmt::format("bpw-{:g}", bpw);
    return r;
  }
  Recipe r = uniform(8);
  r.name = fmt::format("bpw-{:g}", bpw);
  return r;
}

}  // namespace etch::plan
