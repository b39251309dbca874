#include "import/gguf.hpp"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_set>

#include "core/error.hpp"

static_assert(std::endian::native == std::endian::little,
              "GGUF is little-endian and etch reads it in place");

namespace etch::import::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint64_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;
// Nested arrays are the one construct whose in-memory size can outgrow its bytes in the file
// by a large factor (a 12-byte empty array becomes a Value); bound both depth and total count.
constexpr int kMaxNesting = 8;
constexpr uint64_t kMaxNestedValues = uint64_t{1} << 16;

size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool:
      return 1;
    case ValueType::kUint16:
    case ValueType::kInt16:
      return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32:
      return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
      return 8;
    case ValueType::kString:
    case ValueType::kArray:
      return 0;
  }
  return 0;
}

bool known_value_type(uint32_t t) {
  return t <= static_cast<uint32_t>(ValueType::kFloat64);
}

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Reads one packed scalar of type t at p into a Value's scalar fields.
void decode_scalar(ValueType t, const uint8_t* p, Value& v) {
  v.type = t;
  switch (t) {
    case ValueType::kUint8:
      v.integer = load<uint8_t>(p);
      break;
    case ValueType::kInt8:
      v.integer = load<int8_t>(p);
      break;
    case ValueType::kUint16:
      v.integer = load<uint16_t>(p);
      break;
    case ValueType::kInt16:
      v.integer = load<int16_t>(p);
      break;
    case ValueType::kUint32:
      v.integer = load<uint32_t>(p);
      break;
    case ValueType::kInt32:
      v.integer = load<int32_t>(p);
      break;
    case ValueType::kUint64:
      v.uinteger = load<uint64_t>(p);
      v.integer = static_cast<int64_t>(v.uinteger);
      return;
    case ValueType::kInt64:
      v.integer = load<int64_t>(p);
      break;
    case ValueType::kBool:
      v.integer = load<uint8_t>(p) != 0;
      break;
    case ValueType::kFloat32:
      v.real = load<float>(p);
      return;
    case ValueType::kFloat64:
      v.real = load<double>(p);
      return;
    default:
      return;
  }
  v.uinteger = static_cast<uint64_t>(v.integer);
}

class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  size_t size() const { return bytes_.size(); }
  const uint8_t* at(size_t offset) const { return bytes_.data() + offset; }

  void set_section(std::string section) { section_ = std::move(section); }

  void need(uint64_t n) {
    if (n > remaining())
      fail_file(path_, "truncated in {} (needs {} more bytes at offset {}, file has {})", section_,
                n, pos_, bytes_.size());
  }

  template <typename T>
  T get() {
    need(sizeof(T));
    T v = load<T>(bytes_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }

  std::string_view string(std::string_view what) {
    const uint64_t n = get<uint64_t>();
    if (n > remaining())
      fail_file(path_, "{} in {} claims {} bytes but only {} remain", what, section_, n,
                remaining());
    std::string_view s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  ValueType value_type(std::string_view key) {
    const uint32_t t = get<uint32_t>();
    if (!known_value_type(t))
      fail_file(path_, "metadata key '{}' has unknown value type {}", key, t);
    return static_cast<ValueType>(t);
  }

  void value(ValueType t, std::string_view key, Value& out, int depth) {
    out.type = t;
    if (t == ValueType::kString) {
      out.string = string("string value");
      return;
    }
    if (t != ValueType::kArray) {
      const size_t n = scalar_size(t);
      need(n);
      decode_scalar(t, bytes_.data() + pos_, out);
      pos_ += n;
      return;
    }
    if (depth >= kMaxNesting)
      fail_file(path_, "metadata key '{}' nests arrays deeper than {}", key, kMaxNesting);
    out.element_type = value_type(key);
    out.count = get<uint64_t>();
    // Every element takes at least this many bytes, so a count the remaining bytes cannot
    // hold is a lie, caught before anything is allocated for it.
    const uint64_t min_size = out.element_type == ValueType::kString ? 8
                              : out.element_type == ValueType::kArray
                                  ? 12
                                  : scalar_size(out.element_type);
    if (out.count > remaining() / min_size)
      fail_file(path_,
                "metadata key '{}' claims an array of {} {} elements but only {} bytes remain", key,
                out.count, value_type_name(out.element_type), remaining());
    if (out.element_type == ValueType::kString) {
      out.strings.reserve(out.count);
      for (uint64_t i = 0; i < out.count; ++i) out.strings.push_back(string("array string"));
    } else if (out.element_type == ValueType::kArray) {
      nested_ += out.count;
      if (nested_ > kMaxNestedValues)
        fail_file(path_, "metadata key '{}': more than {} nested array values", key,
                  kMaxNestedValues);
      out.arrays.resize(out.count);
      for (uint64_t i = 0; i < out.count; ++i)
        value(ValueType::kArray, key, out.arrays[i], depth + 1);
    } else {
      out.raw = bytes_.data() + pos_;
      pos_ += out.count * min_size;
    }
  }

  void skip_to(size_t offset) { pos_ = offset; }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& path_;
  size_t pos_ = 0;
  std::string section_ = "the header";
  uint64_t nested_ = 0;
};

std::string quoted_key(std::string_view key) {
  // Keys come from the file: keep messages one printable line.
  std::string out;
  for (char c : key.substr(0, 80)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (key.size() > 80) out += "...";
  return out;
}

}  // namespace

const char* value_type_name(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
      return "uint8";
    case ValueType::kInt8:
      return "int8";
    case ValueType::kUint16:
      return "uint16";
    case ValueType::kInt16:
      return "int16";
    case ValueType::kUint32:
      return "uint32";
    case ValueType::kInt32:
      return "int32";
    case ValueType::kFloat32:
      return "float32";
    case ValueType::kBool:
      return "bool";
    case ValueType::kString:
      return "string";
    case ValueType::kArray:
      return "array";
    case ValueType::kUint64:
      return "uint64";
    case ValueType::kInt64:
      return "int64";
    case ValueType::kFloat64:
      return "float64";
  }
  return "unknown";
}

const char* ggml_type_name(uint32_t type) {
  static constexpr const char* kNames[] = {
      "f32",   "f16",        "q4_0",       "q4_1",       "q4_2",     "q4_3",     "q5_0",
      "q5_1",  "q8_0",       "q8_1",       "q2_K",       "q3_K",     "q4_K",     "q5_K",
      "q6_K",  "q8_K",       "iq2_xxs",    "iq2_xs",     "iq3_xxs",  "iq1_s",    "iq4_nl",
      "iq3_s", "iq2_s",      "iq4_xs",     "i8",         "i16",      "i32",      "i64",
      "f64",   "iq1_m",      "bf16",       "q4_0_4_4",   "q4_0_4_8", "q4_0_8_8", "tq1_0",
      "tq2_0", "iq4_nl_4_4", "iq4_nl_4_8", "iq4_nl_8_8", "mxfp4"};
  if (type < std::size(kNames)) return kNames[type];
  return nullptr;
}

bool Value::is_integer() const {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kUint16:
    case ValueType::kInt16:
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kUint64:
    case ValueType::kInt64:
      return true;
    default:
      return false;
  }
}

bool Value::numeric_elements() const {
  return type == ValueType::kArray && element_type != ValueType::kString &&
         element_type != ValueType::kArray;
}

int64_t Value::int_at(uint64_t i) const {
  Value v;
  decode_scalar(element_type, raw + i * scalar_size(element_type), v);
  if (v.is_float()) return static_cast<int64_t>(v.real);
  return v.integer;
}

double Value::real_at(uint64_t i) const {
  Value v;
  decode_scalar(element_type, raw + i * scalar_size(element_type), v);
  if (v.is_float()) return v.real;
  if (v.type == ValueType::kUint64) return static_cast<double>(v.uinteger);
  return static_cast<double>(v.integer);
}

std::string Value::render() const {
  switch (type) {
    case ValueType::kString:
      return std::string(string);
    case ValueType::kArray:
      return fmt::format("[{} × {}]", count, value_type_name(element_type));
    case ValueType::kBool:
      return integer ? "true" : "false";
    case ValueType::kFloat32:
      return fmt::format("{}", static_cast<float>(real));
    case ValueType::kFloat64:
      return fmt::format("{}", real);
    case ValueType::kUint64:
      return fmt::format("{}", uinteger);
    default:
      return fmt::format("{}", integer);
  }
}

Tensor TensorInfo::to_tensor() const {
  Tensor t;
  t.name = name;
  t.type = static_cast<TensorType>(type);
  t.shape.assign(ne.rbegin(), ne.rend());
  t.data = data;
  t.bytes = bytes;
  return t;
}

const Value* File::find(std::string_view key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return &v;
  return nullptr;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  for (const TensorInfo& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

File parse(std::span<const uint8_t> bytes, const std::string& path) {
  File file;
  file.path = path;
  Reader r(bytes, path);

  if (bytes.size() < 4) fail_file(path, "not a GGUF file (only {} bytes)", bytes.size());
  const uint32_t magic = r.get<uint32_t>();
  if (magic != kMagic)
    fail_file(path, "not a GGUF file (magic {:02x} {:02x} {:02x} {:02x}, expected 'GGUF')",
              bytes[0], bytes[1], bytes[2], bytes[3]);
  file.version = r.get<uint32_t>();
  if (file.version == 1)
    fail_file(path, "GGUF version 1 is not supported (only versions 2 and 3); reconvert the model");
  if (file.version != 2 && file.version != 3)
    fail_file(path, "unsupported GGUF version {} (etch reads versions 2 and 3)", file.version);
  const uint64_t n_tensors = r.get<uint64_t>();
  const uint64_t n_kv = r.get<uint64_t>();

  // The smallest possible entries: a key/value is an 8-byte key length, a 4-byte type and at
  // least one value byte; a tensor info is name length, n_dims, one dim, type and offset.
  if (n_kv > r.remaining() / 13)
    fail_file(path, "header claims {} metadata entries but only {} bytes follow", n_kv,
              r.remaining());
  if (n_tensors > r.remaining() / 32)
    fail_file(path, "header claims {} tensors but only {} bytes follow", n_tensors, r.remaining());

  std::unordered_set<std::string_view> keys;
  file.metadata.reserve(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    r.set_section(fmt::format("metadata entry {} of {}", i, n_kv));
    const std::string_view key = r.string("key");
    r.set_section(fmt::format("metadata entry {} of {} ('{}')", i, n_kv, quoted_key(key)));
    if (!keys.insert(key).second) fail_file(path, "duplicate metadata key '{}'", quoted_key(key));
    Value v;
    r.value(r.value_type(quoted_key(key)), quoted_key(key), v, 0);
    file.metadata.emplace_back(std::string(key), std::move(v));
  }

  if (const Value* a = file.find("general.alignment")) {
    if (!a->is_integer())
      fail_file(path, "general.alignment has type {}, expected an integer",
                value_type_name(a->type));
    if (a->integer <= 0 || !std::has_single_bit(static_cast<uint64_t>(a->integer)) ||
        a->integer > (int64_t{1} << 30))
      fail_file(path, "general.alignment {} is not a power of two", a->integer);
    file.alignment = static_cast<uint64_t>(a->integer);
  } else {
    file.alignment = kDefaultAlignment;
  }

  std::unordered_set<std::string_view> names;
  file.tensors.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    r.set_section(fmt::format("tensor info {} of {}", i, n_tensors));
    TensorInfo t;
    const std::string_view name = r.string("tensor name");
    t.name = std::string(name);
    const std::string shown = quoted_key(name);
    r.set_section(fmt::format("tensor info {} of {} ('{}')", i, n_tensors, shown));
    if (!names.insert(name).second) fail_file(path, "duplicate tensor '{}'", shown);
    const uint32_t n_dims = r.get<uint32_t>();
    if (n_dims == 0 || n_dims > kMaxDims)
      fail_file(path, "tensor '{}' has {} dimensions (1 to {} supported)", shown, n_dims, kMaxDims);
    // Checked over the non-zero dimensions so that partial products (rows of an empty
    // tensor) cannot overflow either.
    int64_t nonzero_product = 1;
    bool empty = false;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t raw = r.get<uint64_t>();
      if (raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail_file(path, "tensor '{}' dimension {} is negative or too large ({})", shown, d, raw);
      const auto n = static_cast<int64_t>(raw);
      if (n == 0)
        empty = true;
      else if (nonzero_product > std::numeric_limits<int64_t>::max() / n)
        fail_file(path, "tensor '{}' element count overflows 64 bits", shown);
      else
        nonzero_product *= n;
      t.ne.push_back(n);
    }
    const int64_t elements = empty ? 0 : nonzero_product;
    t.type = r.get<uint32_t>();
    t.offset = r.get<uint64_t>();
    const std::optional<TypeTraits> traits = type_traits(t.type);
    if (!traits) {
      const char* known = ggml_type_name(t.type);
      if (known)
        fail_file(path, "tensor '{}' has type {} ({}), which etch does not support", shown, t.type,
                  known);
      fail_file(path, "tensor '{}' has unknown type {}", shown, t.type);
    }
    if (t.ne[0] % traits->block_elements != 0)
      fail_file(path, "tensor '{}' has rows of {} elements, not a multiple of the {} block size {}",
                shown, t.ne[0], traits->name, traits->block_elements);
    const auto blocks = static_cast<uint64_t>(elements / traits->block_elements);
    const auto block_bytes = static_cast<uint64_t>(traits->block_bytes);
    if (blocks > std::numeric_limits<uint64_t>::max() / block_bytes)
      fail_file(path, "tensor '{}' byte size overflows 64 bits", shown);
    t.bytes = blocks * block_bytes;
    if (t.offset % file.alignment != 0)
      fail_file(path, "tensor '{}' offset {} is not a multiple of the alignment {}", shown,
                t.offset, file.alignment);
    file.tensors.push_back(std::move(t));
  }

  const uint64_t info_end = r.pos();
  file.data_offset = (info_end + file.alignment - 1) / file.alignment * file.alignment;
  if (!file.tensors.empty() && file.data_offset > bytes.size())
    fail_file(path, "truncated before the tensor data (data would start at {}, file has {} bytes)",
              file.data_offset, bytes.size());
  const uint64_t data_size = file.tensors.empty() ? 0 : bytes.size() - file.data_offset;
  for (TensorInfo& t : file.tensors) {
    if (t.offset > data_size || t.bytes > data_size - t.offset)
      fail_file(path,
                "tensor '{}' data ({} bytes at data offset {}) runs past the end of the file "
                "({} bytes of tensor data)",
                quoted_key(t.name), t.bytes, t.offset, data_size);
    t.data = bytes.data() + file.data_offset + t.offset;
  }
  return file;
}

File read(const std::string& path) {
  auto mapping = std::make_shared<const MappedFile>(path);
  File file = parse(mapping->bytes(), path);
  file.mapping = std::move(mapping);
  return file;
}

}  // namespace etch::import::gguf
