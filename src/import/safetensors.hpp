// The safetensors container: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw tensor bytes. The reader treats every byte
// as hostile: each inconsistency is an etch::Error naming the file and the problem.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/mapped_file.hpp"
#include "import/import.hpp"

namespace etch::import::safetensors {

// Headers beyond this are refused before anything is allocated for them (the reference
// implementation's own limit).
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct Entry {
  std::string name;
  std::string dtype;  // as written: "F32", "F16", "BF16"
  TensorType type = TensorType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte range within the data section (after the header)
  uint64_t end = 0;
};

struct Header {
  uint64_t data_start = 0;  // file offset of the data section: 8 + header length
  std::vector<std::pair<std::string, std::string>> metadata;  // __metadata__, sorted by key
  std::vector<Entry> entries;                                 // in data order
};

// Parses and checks a whole safetensors file held in memory. `name` is used in messages.
// Every entry's range lies inside `bytes`, entries do not overlap, and each range's length is
// exactly its shape times its dtype's size.
Header parse(std::span<const uint8_t> bytes, const std::string& name);

// Tensors of a parsed file whose data points into `bytes`.
std::vector<Tensor> tensors(const Header& header, std::span<const uint8_t> bytes);

struct File {
  SharedMappedFile mapping;
  Header header;
  std::vector<Tensor> tensors;  // data points into `mapping`
};

// Memory-maps and parses a safetensors file.
File open(const std::string& path);

// A tensor to write: bytes must hold exactly shape x dtype size bytes.
struct TensorData {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::span<const uint8_t> bytes;
};

// Serializes tensors (in the given order) into a safetensors file image, header padded to 8
// bytes as the reference writer does. Used by tests and tools that build small models.
std::string serialize(const std::vector<TensorData>& tensors,
                      const std::vector<std::pair<std::string, std::string>>& metadata = {});

}  // namespace etch::import::safetensors
