// A tiny GGUF writer for tests: builds valid files, and (through its raw hooks and the section
// offsets it reports) the broken ones the reader must reject.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace etch::testing {

class GgufWriter {
 public:
  // GGUF value type numbers.
  enum Type : uint32_t {
    kU8 = 0,
    kI8 = 1,
    kU16 = 2,
    kI16 = 3,
    kU32 = 4,
    kI32 = 5,
    kF32 = 6,
    kBool = 7,
    kString = 8,
    kArray = 9,
    kU64 = 10,
    kI64 = 11,
    kF64 = 12,
  };

  uint32_t magic = 0x46554747;
  uint32_t version = 3;
  uint64_t alignment = 32;
  // When set, written instead of the real counts (to lie about them).
  std::optional<uint64_t> n_tensors_override, n_kv_override;

  // Metadata: each entry is appended as key, type, value bytes.
  void u32(const std::string& key, uint32_t v) { scalar(key, kU32, v); }
  void i32(const std::string& key, int32_t v) { scalar(key, kI32, v); }
  void u64(const std::string& key, uint64_t v) { scalar(key, kU64, v); }
  void i64(const std::string& key, int64_t v) { scalar(key, kI64, v); }
  void u8(const std::string& key, uint8_t v) { scalar(key, kU8, v); }
  void i8(const std::string& key, int8_t v) { scalar(key, kI8, v); }
  void u16(const std::string& key, uint16_t v) { scalar(key, kU16, v); }
  void i16(const std::string& key, int16_t v) { scalar(key, kI16, v); }
  void f32(const std::string& key, float v) { scalar(key, kF32, v); }
  void f64(const std::string& key, double v) { scalar(key, kF64, v); }
  void boolean(const std::string& key, bool v) { scalar(key, kBool, static_cast<uint8_t>(v)); }
  void string(const std::string& key, const std::string& v) {
    begin(key, kString);
    put_string(kv_, v);
  }
  void strings(const std::string& key, const std::vector<std::string>& v) {
    begin(key, kArray);
    put(kv_, static_cast<uint32_t>(kString));
    put(kv_, static_cast<uint64_t>(v.size()));
    for (const auto& s : v) put_string(kv_, s);
  }
  template <typename T>
  void array(const std::string& key, Type element, const std::vector<T>& v) {
    begin(key, kArray);
    put(kv_, static_cast<uint32_t>(element));
    put(kv_, static_cast<uint64_t>(v.size()));
    for (const T& x : v) put(kv_, x);
  }
  // Appends arbitrary bytes as one metadata entry's body after its key (for hostile values).
  void raw_entry(const std::string& key, const std::vector<uint8_t>& type_and_value) {
    ++n_kv_;
    put_string(kv_, key);
    kv_.insert(kv_.end(), type_and_value.begin(), type_and_value.end());
  }

  // A tensor: ne in ggml order (innermost first); data placed at the next aligned offset
  // (by the alignment in force when bytes() runs) unless `offset` is given.
  void tensor(const std::string& name, uint32_t type, std::vector<uint64_t> ne,
              std::vector<uint8_t> data, std::optional<uint64_t> offset = std::nullopt) {
    tensors_.push_back(Tensor{name, type, std::move(ne), std::move(data), offset});
  }
  void tensor_f32(const std::string& name, std::vector<uint64_t> ne, const std::vector<float>& v) {
    std::vector<uint8_t> bytes(v.size() * 4);
    std::memcpy(bytes.data(), v.data(), bytes.size());
    tensor(name, 0, std::move(ne), std::move(bytes));
  }

  // When false, bytes() stops after the tensor directory and its padding (for files whose
  // claimed offsets are far beyond anything worth materialising).
  bool write_data = true;

  // Offsets of each section in the bytes built last.
  struct Layout {
    size_t header_end = 0, kv_end = 0, info_end = 0, data_start = 0, size = 0;
  } layout;

  std::vector<uint8_t> bytes() {
    std::vector<uint64_t> offsets;
    uint64_t data_end = 0;
    for (const Tensor& t : tensors_) {
      const uint64_t at = t.offset.value_or((data_end + alignment - 1) / alignment * alignment);
      offsets.push_back(at);
      data_end = std::max<uint64_t>(data_end, at + t.data.size());
    }
    std::vector<uint8_t> out;
    put(out, magic);
    put(out, version);
    put(out, n_tensors_override.value_or(tensors_.size()));
    put(out, n_kv_override.value_or(n_kv_));
    layout.header_end = out.size();
    out.insert(out.end(), kv_.begin(), kv_.end());
    layout.kv_end = out.size();
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const Tensor& t = tensors_[i];
      put_string(out, t.name);
      put(out, static_cast<uint32_t>(t.ne.size()));
      for (uint64_t n : t.ne) put(out, n);
      put(out, t.type);
      put(out, offsets[i]);
    }
    layout.info_end = out.size();
    if (!tensors_.empty()) out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
    layout.data_start = out.size();
    if (write_data) {
      out.resize(layout.data_start + data_end, 0);
      for (size_t i = 0; i < tensors_.size(); ++i)
        if (!tensors_[i].data.empty())
          std::memcpy(out.data() + layout.data_start + offsets[i], tensors_[i].data.data(),
                      tensors_[i].data.size());
    }
    layout.size = out.size();
    return out;
  }

  static void write(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }

  template <typename T>
  static void put(std::vector<uint8_t>& out, T v) {
    const size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &v, sizeof(T));
  }
  static void put_string(std::vector<uint8_t>& out, const std::string& s) {
    put(out, static_cast<uint64_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }

 private:
  struct Tensor {
    std::string name;
    uint32_t type;
    std::vector<uint64_t> ne;
    std::vector<uint8_t> data;
    std::optional<uint64_t> offset;
  };

  void begin(const std::string& key, Type type) {
    ++n_kv_;
    put_string(kv_, key);
    put(kv_, static_cast<uint32_t>(type));
  }
  template <typename T>
  void scalar(const std::string& key, Type type, T v) {
    begin(key, type);
    put(kv_, v);
  }

  std::vector<uint8_t> kv_;
  uint64_t n_kv_ = 0;
  std::vector<Tensor> tensors_;
};

}  // namespace etch::testing
