// A generic reader of GGUF files (llama.cpp's format), versions 2 and 3. It knows nothing of
// model architectures: it yields the metadata key/values and the tensor directory, with every
// tensor's bytes left in place in the file (memory-mapped, never copied). gguf_model.cpp builds
// an etch Model from it.
//
// The input is treated as hostile: every read is bounds-checked, every count is checked against
// the bytes that remain before anything is allocated for it, and every failure is an etch::Error
// of one line naming the file and the problem.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/mapped_file.hpp"
#include "import/import.hpp"

namespace etch::import::gguf {

// Metadata value types, numbered as GGUF stores them.
enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

const char* value_type_name(ValueType type);
// ggml's name of a tensor type number, including types etch cannot dequantize; nullptr when
// the number is unknown to ggml too.
const char* ggml_type_name(uint32_t type);

// One metadata value. Strings and arrays refer to the bytes they were parsed from (the mapped
// file), so a GGUF's large vocabularies are not copied.
struct Value {
  ValueType type = ValueType::kUint8;

  // Scalars: integers and bools in `integer` (unsigned 64-bit values above INT64_MAX are kept
  // in `uinteger` too), floats in `real`, strings in `string`.
  int64_t integer = 0;
  uint64_t uinteger = 0;
  double real = 0;
  std::string_view string;

  // Arrays: the element type and count. Scalar elements stay packed little-endian at `raw`;
  // strings are listed in `strings`, nested arrays in `arrays`.
  ValueType element_type = ValueType::kUint8;
  uint64_t count = 0;
  const uint8_t* raw = nullptr;
  std::vector<std::string_view> strings;
  std::vector<Value> arrays;

  bool is_integer() const;  // any integer type (not bool)
  bool is_float() const { return type == ValueType::kFloat32 || type == ValueType::kFloat64; }
  bool is_array() const { return type == ValueType::kArray; }

  // Element i of an array of integers / floats (any numeric element type, converted).
  int64_t int_at(uint64_t i) const;
  double real_at(uint64_t i) const;
  bool numeric_elements() const;

  // The value as text for `etch info`: scalars printed, arrays summarised as "[N × type]".
  std::string render() const;
};

struct TensorInfo {
  std::string name;
  uint32_t type = 0;
  std::vector<int64_t> ne;  // ggml order: innermost (contiguous) dimension first
  uint64_t offset = 0;      // relative to the data section
  uint64_t bytes = 0;       // stored size
  const uint8_t* data = nullptr;

  // etch's view: outermost-first shape, dequantizable type.
  Tensor to_tensor() const;
};

struct File {
  std::string path;
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;  // start of the tensor data section in the file
  std::vector<std::pair<std::string, Value>> metadata;  // in file order
  std::vector<TensorInfo> tensors;                      // in file order
  SharedMappedFile mapping;                             // set by read(); parse() leaves it empty

  const Value* find(std::string_view key) const;
  const TensorInfo* find_tensor(std::string_view name) const;
};

// Parses GGUF bytes held by the caller (who keeps them alive as long as the result is used).
// `path` only names the source in error messages.
File parse(std::span<const uint8_t> bytes, const std::string& path);

// Maps the file and parses it; the result keeps the mapping alive.
File read(const std::string& path);

// Builds an etch Model from a parsed GGUF (architecture `llama`), validated. The model keeps
// file.mapping alive.
Model to_model(const File& file);

// The tokenizer.ggml.* vocabulary of a parsed GGUF (any architecture).
tokenize::Vocabulary to_vocabulary(const File& file);

}  // namespace etch::import::gguf
