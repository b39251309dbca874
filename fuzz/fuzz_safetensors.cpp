// libFuzzer target for the safetensors reader: any input must parse or throw etch::Error, and
// every tensor of an accepted input must lie inside the input (ASan checks the touches).
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.hpp"
#include "import/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace st = etch::import::safetensors;
  const std::span<const uint8_t> bytes(data, size);
  try {
    const st::Header header = st::parse(bytes, "fuzz.safetensors");
    volatile uint8_t sink = 0;
    for (const etch::import::Tensor& t : st::tensors(header, bytes)) {
      if (t.bytes == 0) continue;
      sink = sink + t.data[0] + t.data[t.bytes - 1];
    }
  } catch (const etch::Error&) {
  }
  return 0;
}
