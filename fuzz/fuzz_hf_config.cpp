// libFuzzer target for Hugging Face config.json parsing: any input must give a config or throw
// etch::Error (no crash, no unbounded recursion or allocation).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.hpp"
#include "import/import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    etch::import::parse_huggingface_config({reinterpret_cast<const char*>(data), size},
                                           "config.json");
  } catch (const etch::Error&) {
  }
  return 0;
}
