#include "import/safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.hpp"

namespace etch::import::safetensors {

namespace {

using json = nlohmann::json;

// Names come from the file: escape control bytes and cap the length so that a hostile name
// cannot break the one-line error message or flood the terminal.
std::string printable(std::string_view s) {
  std::string out;
  const size_t limit = 96;
  for (size_t i = 0; i < s.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > limit) out += "...";
  return out;
}

const char* type_name(const json& j) {
  if (j.is_number_float()) return "a fractional number";
  if (j.is_number()) return "an integer";
  return j.type_name();
}

std::string render_shape(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Parses JSON refusing duplicate keys (nlohmann would silently keep the last, letting two
// entries claim one tensor name) and nesting deeper than any valid header needs (which would
// only cost memory).
json parse_json(std::string_view text, const std::string& name) {
  constexpr int kMaxDepth = 8;
  std::vector<std::set<std::string>> keys;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxDepth)
      fail_file(name, "header JSON is nested deeper than {} levels", kMaxDepth);
    switch (event) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second)
          fail_file(name, "header has a duplicate key '{}'", printable(parsed.get<std::string>()));
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " tag: the user needs the position.
    if (const size_t close = what.find("] "); what.starts_with("[json.") && close != what.npos)
      what = what.substr(close + 2);
    fail_file(name, "malformed JSON header: {}", printable(what));
  }
}

struct DtypeInfo {
  const char* name;
  TensorType type;
  uint64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F32", TensorType::kF32, 4},
    {"F16", TensorType::kF16, 2},
    {"BF16", TensorType::kBF16, 2},
};

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

// A JSON integer that fits uint64; nullopt for negatives, fractions and other types.
std::optional<uint64_t> as_unsigned(const json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer() && j.get<int64_t>() >= 0)
    return static_cast<uint64_t>(j.get<int64_t>());
  return std::nullopt;
}

Entry parse_entry(const std::string& file, const std::string& tensor, const json& value,
                  uint64_t data_bytes) {
  const std::string t = printable(tensor);
  if (!value.is_object())
    fail_file(file, "tensor '{}': entry is {}, expected an object", t, type_name(value));
  Entry e;
  e.name = tensor;

  const auto dtype = value.find("dtype");
  if (dtype == value.end()) fail_file(file, "tensor '{}' has no dtype", t);
  if (!dtype->is_string())
    fail_file(file, "tensor '{}': dtype is {}, expected a string", t, type_name(*dtype));
  e.dtype = dtype->get<std::string>();
  const DtypeInfo* info = nullptr;
  for (const DtypeInfo& d : kDtypes)
    if (e.dtype == d.name) info = &d;
  if (info == nullptr)
    fail_file(file, "tensor '{}' has dtype {}, which etch does not support (only F32, F16, BF16)",
              t, printable(e.dtype));
  e.type = info->type;

  const auto shape = value.find("shape");
  if (shape == value.end()) fail_file(file, "tensor '{}' has no shape", t);
  if (!shape->is_array())
    fail_file(file, "tensor '{}': shape is {}, expected an array", t, type_name(*shape));
  if (shape->size() > 8) fail_file(file, "tensor '{}' has {} dimensions", t, shape->size());
  // Elements are bounded by 2^62 so that elements x dtype size cannot overflow either.
  constexpr uint64_t kMaxElements = uint64_t{1} << 62;
  uint64_t elements = 1;
  for (const json& dim : *shape) {
    if (dim.is_number_integer() && !dim.is_number_unsigned() && dim.get<int64_t>() < 0)
      fail_file(file, "tensor '{}' has a negative dimension {}", t, dim.get<int64_t>());
    const std::optional<uint64_t> d = as_unsigned(dim);
    if (!d)
      fail_file(file, "tensor '{}': a dimension is {}, expected an integer", t, type_name(dim));
    if (*d > kMaxElements || (*d != 0 && elements > kMaxElements / *d))
      fail_file(file, "tensor '{}': shape {} overflows the element count", t,
                printable(shape->dump()));
    elements *= *d;
    e.shape.push_back(static_cast<int64_t>(*d));
  }
  const uint64_t needed = elements * info->size;

  const auto offsets = value.find("data_offsets");
  if (offsets == value.end()) fail_file(file, "tensor '{}' has no data_offsets", t);
  if (!offsets->is_array() || offsets->size() != 2)
    fail_file(file, "tensor '{}': data_offsets must be an array of two integers", t);
  const std::optional<uint64_t> begin = as_unsigned((*offsets)[0]);
  const std::optional<uint64_t> end = as_unsigned((*offsets)[1]);
  if (!begin || !end) fail_file(file, "tensor '{}': data_offsets must be non-negative integers", t);
  if (*end < *begin)
    fail_file(file, "tensor '{}': data_offsets [{}, {}] end before they begin", t, *begin, *end);
  if (*end > data_bytes)
    fail_file(file, "tensor '{}': data_offsets [{}, {}] run past the end of the data ({} bytes)", t,
              *begin, *end, data_bytes);
  if (*end - *begin != needed)
    fail_file(file,
              "tensor '{}': data_offsets [{}, {}] span {} bytes but shape {} of {} needs {} bytes",
              t, *begin, *end, *end - *begin, render_shape(e.shape), e.dtype, needed);
  e.begin = *begin;
  e.end = *end;
  return e;
}

}  // namespace

Header parse(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.size() < 8)
    fail_file(name, "{} bytes is too short for a safetensors header length", bytes.size());
  const uint64_t length = read_u64_le(bytes.data());
  if (length > kMaxHeaderBytes)
    fail_file(name, "header length {} is absurd (the limit is {} bytes)", length, kMaxHeaderBytes);
  if (length > bytes.size() - 8)
    fail_file(name, "header length {} runs past the end of the file ({} bytes): truncated?", length,
              bytes.size());
  if (length == 0) fail_file(name, "header is empty");

  Header header;
  header.data_start = 8 + length;
  const uint64_t data_bytes = bytes.size() - header.data_start;
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), length);
  const json root = parse_json(text, name);
  if (!root.is_object()) fail_file(name, "header is {}, expected a JSON object", type_name(root));

  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      if (!value.is_object())
        fail_file(name, "__metadata__ is {}, expected an object", type_name(value));
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string())
          fail_file(name, "__metadata__ '{}' is {}, expected a string", printable(mkey),
                    type_name(mvalue));
        header.metadata.emplace_back(mkey, mvalue.get<std::string>());
      }
      continue;
    }
    header.entries.push_back(parse_entry(name, key, value, data_bytes));
  }

  // Engines read tensors in place through typed pointers; a misaligned one is undefined
  // behaviour (and a fault once vectorized code assumes alignment). Writers pad the header to 8
  // bytes and order tensors by alignment, so only odd or hostile files trip this.
  for (const Entry& e : header.entries) {
    const uint64_t size = e.type == TensorType::kF32 ? 4 : 2;
    if ((header.data_start + e.begin) % size != 0)
      fail_file(name, "tensor '{}' starts at file offset {}, not a multiple of its {}-byte element",
                printable(e.name), header.data_start + e.begin, size);
  }
  std::sort(header.entries.begin(), header.entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const Entry* last = nullptr;
  for (const Entry& e : header.entries) {
    if (e.begin == e.end) continue;  // empty tensors occupy no bytes
    if (e.begin < covered)
      fail_file(name, "tensors '{}' and '{}' overlap (bytes [{}, {}) and [{}, {}))",
                printable(last->name), printable(e.name), last->begin, last->end, e.begin, e.end);
    covered = e.end;
    last = &e;
  }
  return header;
}

std::vector<Tensor> tensors(const Header& header, std::span<const uint8_t> bytes) {
  std::vector<Tensor> out;
  out.reserve(header.entries.size());
  const uint8_t* data = bytes.data() + header.data_start;
  for (const Entry& e : header.entries) {
    Tensor t;
    t.name = e.name;
    t.type = e.type;
    t.shape = e.shape;
    t.data = data + e.begin;
    t.bytes = e.end - e.begin;
    out.push_back(std::move(t));
  }
  return out;
}

File open(const std::string& path) {
  File f;
  f.mapping = std::make_shared<const MappedFile>(path);
  f.header = parse(f.mapping->bytes(), path);
  f.tensors = tensors(f.header, f.mapping->bytes());
  return f;
}

std::string serialize(const std::vector<TensorData>& tensors,
                      const std::vector<std::pair<std::string, std::string>>& metadata) {
  json header = json::object();
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  uint64_t offset = 0;
  for (const TensorData& t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(text.size() >> (8 * i) & 0xff);
  out += text;
  for (const TensorData& t : tensors)
    out.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  return out;
}

}  // namespace etch::import::safetensors
