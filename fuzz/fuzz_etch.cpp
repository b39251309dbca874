// libFuzzer target for the .etch reader: arbitrary bytes must give an etch::Error or a valid
// model, never a crash. The reader maps files, so each input goes through a temporary file.
//
// Random bytes almost never get past the checksums, so the metadata and section readers would
// go unfuzzed. Unless the first padding byte of the header (offset 48, zero in every file etch
// writes) is set, the input is repaired first, as a forger would: the total length, each
// section's XXH64 where the metadata still parses, and the metadata's own XXH64. Setting that
// byte leaves the input as it came, so the checksum checks themselves are fuzzed too. The seeds
// are valid files that fuzz/seeds_fuzz_etch.cpp writes at test time.
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "compile/compile.hpp"
#include "core/error.hpp"

namespace {

// Header fields (docs/etch-format.md).
constexpr size_t kHeaderBytes = 64, kJsonBytesAt = 24, kJsonHashAt = 32, kFileBytesAt = 40,
                 kRepairSwitchAt = 48;

uint64_t load_u64(const std::string& bytes, size_t at) {
  uint64_t v;
  std::memcpy(&v, bytes.data() + at, 8);
  return v;
}

void store_u64(std::string& bytes, size_t at, uint64_t v) {
  std::memcpy(bytes.data() + at, &v, 8);
}

// Section checksums live in the metadata: recompute them and write the metadata back, padded
// with white space to its old length, or longer where the gap before the first section allows.
void repair_sections(std::string& bytes, uint64_t json_bytes) {
  nlohmann::json meta = nlohmann::json::parse(
      bytes.begin() + kHeaderBytes, bytes.begin() + static_cast<long>(kHeaderBytes + json_bytes),
      nullptr, false);
  if (!meta.is_object() || !meta.contains("sections") || !meta["sections"].is_array()) return;
  uint64_t first_section = bytes.size();
  for (auto& s : meta["sections"]) {
    if (!s.is_object() || !s.contains("offset") || !s.contains("bytes")) continue;
    if (!s["offset"].is_number_unsigned() || !s["bytes"].is_number_unsigned()) continue;
    const uint64_t offset = s["offset"].get<uint64_t>(), length = s["bytes"].get<uint64_t>();
    if (offset > bytes.size() || length > bytes.size() - offset) continue;
    s["xxh64"] = XXH64(bytes.data() + offset, length, 0);
    first_section = std::min(first_section, offset);
  }
  std::string text = meta.dump();
  if (text.size() < json_bytes) text.resize(json_bytes, ' ');
  if (text.size() > json_bytes && kHeaderBytes + text.size() > first_section) return;
  std::copy(text.begin(), text.end(), bytes.begin() + kHeaderBytes);
  store_u64(bytes, kJsonBytesAt, text.size());
}

void repair(std::string& bytes) {
  if (bytes.size() < kHeaderBytes || bytes[kRepairSwitchAt] != 0) return;
  store_u64(bytes, kFileBytesAt, bytes.size());
  if (load_u64(bytes, kJsonBytesAt) > bytes.size() - kHeaderBytes) return;
  repair_sections(bytes, load_u64(bytes, kJsonBytesAt));
  store_u64(bytes, kJsonHashAt,
            XXH64(bytes.data() + kHeaderBytes, load_u64(bytes, kJsonBytesAt), 0));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/etch-fuzz-" + std::to_string(::getpid()) + ".etch";
  std::string bytes(reinterpret_cast<const char*>(data), size);
  repair(bytes);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  try {
    const etch::compile::EtchModel m = etch::compile::read_etch(path);
    volatile uint64_t bits = m.rom_bits();
    (void)bits;
  } catch (const etch::Error&) {
  }
  return 0;
}
