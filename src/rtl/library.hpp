// The fixed SystemVerilog library (src/rtl/sv), compiled into the binary by CMake.
#pragma once

#include <string_view>
#include <vector>

namespace etch::rtl {

struct LibraryFile {
  std::string_view name;  // "msa_tile.sv"
  std::string_view text;
};
const std::vector<LibraryFile>& library_files();

}  // namespace etch::rtl
