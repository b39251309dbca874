// Writes test vectors for the Icarus Verilog run of the binary32 blocks and the exp unit
// (iverilog_tb.sv): one 256-bit hex word per line holding a, b, a*b, a+b, a/b, sqrt(a),
// code(a) and exp_unit(a), the results from the host's binary32 arithmetic and the contract.
// Usage: etch_rtl_iverilog_vectors OUT.mem COUNT
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "contract/contract.hpp"

namespace {

uint32_t bits(float f) {
  return std::bit_cast<uint32_t>(f);
}

// Raw bit patterns (every class), ordinary magnitudes, and the subnormal range.
float random_float(std::mt19937_64& rng) {
  const uint32_t r = static_cast<uint32_t>(rng());
  switch (rng() % 4) {
    case 0:
      return std::bit_cast<float>(r);
    case 1:
      return std::bit_cast<float>((r & 0x807FFFFFu) | static_cast<uint32_t>((rng() % 4) << 23));
    default:
      return std::bit_cast<float>((r & 0x807FFFFFu) |
                                  static_cast<uint32_t>((110 + rng() % 35) << 23));
  }
}

uint32_t code_of(float v) {
  if (std::isnan(v)) return 0;
  const float r = std::nearbyint(v);
  return static_cast<uint16_t>(static_cast<int16_t>(r < -32767.0f  ? -32767.0f
                                                    : r > 32767.0f ? 32767.0f
                                                                   : r));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s OUT.mem COUNT\n", argv[0]);
    return 2;
  }
  std::FILE* out = std::fopen(argv[1], "w");
  if (!out) {
    std::fprintf(stderr, "%s: cannot write %s\n", argv[0], argv[1]);
    return 1;
  }
  const long count = std::strtol(argv[2], nullptr, 10);
  std::mt19937_64 rng(0x1ca5);
  for (long i = 0; i < count; ++i) {
    const float a = random_float(rng);
    // Half the cases exercise the exp unit's range and the sums' cancellation.
    const float b = i % 2 ? random_float(rng) : -a * (1.0f + std::ldexp(1.0f, -20));
    const float d = i % 2 ? a : -std::abs(a);
    std::fprintf(out, "%08x%08x%08x%08x%08x%08x%08x%08x\n", bits(d), bits(b), bits(d * b),
                 bits(d + b), bits(d / b), bits(std::sqrt(d)), code_of(d),
                 etch::contract::exp_unit(d));
  }
  return std::fclose(out) == 0 ? 0 : 1;
}
