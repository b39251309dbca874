// Writes contract::exp_table() as a $readmemh file (one 17-bit hex word per line), the ROM
// contents of the RTL exp unit. Usage: etch_rtl_exp_table OUT.mem
#include <cstdio>

#include "contract/contract.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.mem\n", argv[0]);
    return 2;
  }
  std::FILE* out = std::fopen(argv[1], "w");
  if (!out) {
    std::fprintf(stderr, "%s: cannot write %s\n", argv[0], argv[1]);
    return 1;
  }
  for (uint32_t entry : etch::contract::exp_table()) std::fprintf(out, "%05x\n", entry);
  return std::fclose(out) == 0 ? 0 : 1;
}
