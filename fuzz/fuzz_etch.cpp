// libFuzzer target for the .etch reader: arbitrary bytes must give an etch::Error or a valid
// model, never a crash. The reader maps files, so each input goes through a temporary file.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "compile/compile.hpp"
#include "core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/etch-fuzz-" + std::to_string(::getpid()) + ".etch";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    const etch::compile::EtchModel m = etch::compile::read_etch(path);
    volatile uint64_t bits = m.rom_bits();
    (void)bits;
  } catch (const etch::Error&) {
  }
  return 0;
}
