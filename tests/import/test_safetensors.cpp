#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "core/half.hpp"
#include "import/safetensors.hpp"
#include "test_support.hpp"

namespace etch::import {
namespace {

namespace st = safetensors;
namespace fs = std::filesystem;

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A file image from a literal header (space-padded to 8 bytes, as writers do, unless `pad` is
// false) and `data_bytes` zero bytes of tensor data.
std::string image(std::string header, size_t data_bytes = 0, bool pad = true) {
  if (pad) header.append((8 - header.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i) & 0xff);
  return out + header + std::string(data_bytes, '\0');
}

using testing::expect_error;

void expect_parse_error(const std::string& bytes, std::vector<std::string> parts) {
  parts.insert(parts.begin(), "mem.safetensors: ");
  expect_error([&] { st::parse(as_bytes(bytes), "mem.safetensors"); }, parts);
}

// Two small tensors: f32 [2, 3] and bf16 [4].
std::string small_valid() {
  static const float a[6] = {1, 2, 3, 4, 5, 6};
  static uint16_t b[4];
  for (int i = 0; i < 4; ++i) b[i] = f32_to_bf16(0.5f * static_cast<float>(i));
  return st::serialize({{"a", "F32", {2, 3}, {reinterpret_cast<const uint8_t*>(a), sizeof a}},
                        {"b", "BF16", {4}, {reinterpret_cast<const uint8_t*>(b), sizeof b}}},
                       {{"format", "pt"}});
}

TEST(Safetensors, ReadsFixtureFile) {
  const st::File f = st::open((testing::model_dir("kjv-8m") / "hf" / "model.safetensors").string());
  ASSERT_EQ(f.tensors.size(), 2u + 8u * 9u + 1u);
  ASSERT_EQ(f.header.metadata.size(), 1u);
  EXPECT_EQ(f.header.metadata[0], (std::pair<std::string, std::string>{"format", "pt"}));
  // Entries come in data order: lm_head is written first.
  EXPECT_EQ(f.tensors[0].name, "lm_head.weight");
  EXPECT_EQ(f.tensors[0].type, TensorType::kBF16);
  EXPECT_EQ(f.tensors[0].shape, (std::vector<int64_t>{4096, 256}));
  EXPECT_EQ(f.tensors[0].bytes, 4096u * 256u * 2u);
  EXPECT_EQ(f.tensors[0].data, f.mapping->data() + f.header.data_start);
  for (size_t i = 1; i < f.tensors.size(); ++i)
    EXPECT_EQ(f.tensors[i].data, f.tensors[i - 1].data + f.tensors[i - 1].bytes);
  EXPECT_EQ(f.tensors.back().data + f.tensors.back().bytes, f.mapping->data() + f.mapping->size());
}

TEST(Safetensors, RoundTripsSerializedTensors) {
  const std::string bytes = small_valid();
  EXPECT_EQ((bytes.size() - 8 - 24 - 8) % 8, 0u);  // header padded to 8 bytes
  const st::Header h = st::parse(as_bytes(bytes), "mem");
  const std::vector<Tensor> t = st::tensors(h, as_bytes(bytes));
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].name, "a");
  EXPECT_EQ(t[0].type, TensorType::kF32);
  EXPECT_EQ(t[0].shape, (std::vector<int64_t>{2, 3}));
  float a[6];
  std::memcpy(a, t[0].data, sizeof a);
  EXPECT_EQ(a[5], 6.0f);
  EXPECT_EQ(t[1].type, TensorType::kBF16);
  uint16_t b3;
  std::memcpy(&b3, t[1].data + 6, 2);
  EXPECT_EQ(bf16_to_f32(b3), 1.5f);
  EXPECT_EQ(h.metadata.size(), 1u);
}

TEST(Safetensors, AcceptsEmptyAndScalarTensors) {
  const std::string bytes = image(R"({"e":{"dtype":"F16","shape":[0,5],"data_offsets":[0,0]},)"
                                  R"("s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                                  R"("z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
                                  4);
  const st::Header h = st::parse(as_bytes(bytes), "mem");
  ASSERT_EQ(h.entries.size(), 3u);
  EXPECT_TRUE(h.metadata.empty());
}

TEST(Safetensors, RejectsUnsupportedDtypes) {
  for (const char* dtype : {"F64", "I8", "I64", "U8", "BOOL", "F8_E4M3", "Q4"}) {
    expect_parse_error(
        image(fmt::format(R"({{"w.weight":{{"dtype":"{}","shape":[2],"data_offsets":[0,16]}}}})",
                          dtype),
              16),
        {"'w.weight'", std::string("dtype ") + dtype, "not support"});
  }
}

TEST(Safetensors, RejectsBadLengths) {
  expect_parse_error("", {"too short"});
  expect_parse_error(std::string("\x10\0\0", 3), {"too short"});
  expect_parse_error(std::string(8, '\0') + "{}", {"header is empty"});
  std::string absurd = image("{}");
  absurd[5] = 1;  // 2^40 + 2 bytes
  expect_parse_error(absurd, {"header length", "absurd"});
  std::string past = image("{}");
  past[0] = 100;
  expect_parse_error(past, {"header length 100", "past the end", "truncated"});
}

TEST(Safetensors, EveryTruncationIsAnError) {
  const std::string bytes = small_valid();
  for (size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_THROW(st::parse(as_bytes(bytes.substr(0, n)), "mem"), Error);
  }
  // The three sections: inside the length, inside the header, inside the data.
  expect_parse_error(bytes.substr(0, 5), {"too short"});
  expect_parse_error(bytes.substr(0, 20), {"past the end of the file"});
  expect_parse_error(bytes.substr(0, bytes.size() - 1), {"'b'", "past the end of the data"});
}

TEST(Safetensors, RejectsMalformedJson) {
  expect_parse_error(image("{\"a\": "), {"malformed JSON", "line 1"});
  expect_parse_error(image("not json"), {"malformed JSON"});
  expect_parse_error(image(std::string("{\"a\"\0}", 6)), {"malformed JSON"});
  expect_parse_error(image("[1, 2]"), {"expected a JSON object"});
  expect_parse_error(image("\"text\""), {"expected a JSON object"});
  expect_parse_error(image(std::string(5000, '[') + std::string(5000, ']')), {"nested deeper"});
  expect_parse_error(
      image(R"({"__metadata__":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{}}}}}}}}}}})"),
      {"nested deeper"});
}

TEST(Safetensors, RejectsWrongFieldTypes) {
  auto entry = [](const std::string& body) { return image("{\"t\":" + body + "}", 8); };
  expect_parse_error(entry("[1]"), {"'t'", "expected an object"});
  expect_parse_error(entry(R"({"shape":[2],"data_offsets":[0,8]})"), {"'t'", "no dtype"});
  expect_parse_error(entry(R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})"),
                     {"'t'", "dtype is an integer"});
  expect_parse_error(entry(R"({"dtype":"F32","data_offsets":[0,8]})"), {"'t'", "no shape"});
  expect_parse_error(entry(R"({"dtype":"F32","shape":"2","data_offsets":[0,8]})"),
                     {"'t'", "shape is string"});
  expect_parse_error(entry(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})"),
                     {"'t'", "a dimension is a fractional number"});
  expect_parse_error(entry(R"({"dtype":"F32","shape":[true],"data_offsets":[0,8]})"),
                     {"'t'", "a dimension is boolean"});
  expect_parse_error(entry(R"({"dtype":"F32","shape":[2]})"), {"'t'", "no data_offsets"});
  expect_parse_error(entry(R"({"dtype":"F32","shape":[2],"data_offsets":[0]})"),
                     {"'t'", "two integers"});
  expect_parse_error(entry(R"({"dtype":"F32","shape":[2],"data_offsets":{"a":1}})"),
                     {"'t'", "two integers"});
  expect_parse_error(entry(R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})"),
                     {"'t'", "non-negative integers"});
  expect_parse_error(entry(R"({"dtype":"F32","shape":[2],"data_offsets":["0","8"]})"),
                     {"'t'", "non-negative integers"});
  expect_parse_error(image(R"({"__metadata__":[1]})"), {"__metadata__ is array"});
  expect_parse_error(image(R"({"__metadata__":{"format":1}})"), {"__metadata__ 'format'"});
}

TEST(Safetensors, RejectsImpossibleShapes) {
  expect_parse_error(image(R"({"t":{"dtype":"F32","shape":[-2, 4],"data_offsets":[0,8]}})", 8),
                     {"'t'", "negative dimension -2"});
  expect_parse_error(
      image(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8),
      {"'t'", "overflows"});
  expect_parse_error(
      image(R"({"t":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})", 8),
      {"'t'", "overflows"});
  expect_parse_error(
      image(R"({"t":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})", 4),
      {"'t'", "9 dimensions"});
  // Elements fit 2^62 but the byte count would not fit without the element bound.
  expect_parse_error(image(R"({"t":{"dtype":"F32","shape":[4611686018427387904],)"
                           R"("data_offsets":[0,8]}})",
                           8),
                     {"'t'", "span 8 bytes"});
}

TEST(Safetensors, RejectsLyingHeaders) {
  // The shape needs 24 bytes, the offsets claim 16.
  expect_parse_error(image(R"({"t":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}})", 24),
                     {"'t'", "span 16 bytes", "[2, 3] of F32 needs 24 bytes"});
  expect_parse_error(image(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
                     {"'t'", "end before they begin"});
  expect_parse_error(image(R"({"t":{"dtype":"F16","shape":[4],"data_offsets":[8,16]}})", 8),
                     {"'t'", "[8, 16]", "past the end of the data (8 bytes)"});
  expect_parse_error(
      image(
          R"({"t":{"dtype":"F16","shape":[4],"data_offsets":[18446744073709551607,18446744073709551615]}})",
          8),
      {"'t'", "past the end of the data"});
  expect_parse_error(image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                           16),
                     {"'a' and 'b' overlap"});
  expect_parse_error(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                           16),
                     {"duplicate key 'a'"});
}

TEST(Safetensors, RejectsMisalignedTensors) {
  // Header of 61 bytes: the data section starts at file offset 69.
  const std::string header = R"({"t":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}       )";
  ASSERT_EQ(header.size(), 61u);
  expect_parse_error(image(header, 4, false), {"'t'", "file offset 69", "2-byte element"});
  expect_parse_error(image(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})", 8),
                     {"'t'", "not a multiple of its 4-byte element"});
}

TEST(Safetensors, QuotesHostileNamesOnOneLine) {
  expect_parse_error(
      image("{\"bad\\nname\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
      {"'bad\\x0aname'", "dtype I8"});
}

TEST(Safetensors, OpenNamesMissingFile) {
  expect_error([] { st::open("/nonexistent/model.safetensors"); },
               {"/nonexistent/model.safetensors", "cannot open"});
}

TEST(Safetensors, OpenNamesTheFileInParseErrors) {
  const testing::TempDir dir("safetensors-open");
  const fs::path path = dir / "lying.safetensors";
  {
    std::ofstream out(path, std::ios::binary);
    out << image(R"({"t":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}})", 8);
  }
  expect_error([&] { st::open(path.string()); }, {path.string() + ": ", "'t'", "needs 6 bytes"});
}

}  // namespace
}  // namespace etch::import
