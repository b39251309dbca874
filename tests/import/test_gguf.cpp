// The GGUF reader and the Llama model built from it, on files made by the test writer: every
// value type, alignment, and the hostile inputs (truncation, lies about counts and sizes,
// unknown types, contradictions with the config) that must give one clear error each.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.hpp"
#include "import/gguf.hpp"
#include "import/gguf_writer.hpp"
#include "import/import.hpp"
#include "test_support.hpp"

namespace etch::import {
namespace {

using etch::testing::GgufWriter;
namespace fs = std::filesystem;

using etch::testing::error_of;

#define EXPECT_ERROR(expr, ...)                                                                   \
  do {                                                                                            \
    const std::string message = error_of([&] { (void)(expr); });                                  \
    for (const char* part : {__VA_ARGS__})                                                        \
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message; \
  } while (0)

gguf::File parse(const std::vector<uint8_t>& bytes, const std::string& name = "mem.gguf") {
  return gguf::parse(bytes, name);
}

std::vector<float> ramp(size_t n, float scale = 0.01f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % 97) - 48);
  return v;
}

// A complete tiny llama: hidden 32, 4 heads of 8, 2 KV heads, FFN 64, one layer, 8 tokens.
struct Tiny {
  std::set<std::string> skip;                          // tensors left out
  std::map<std::string, std::vector<uint64_t>> shape;  // ne overrides (ggml order)
  bool tokenizer = true;
  std::string arch = "llama";

  GgufWriter writer() const {
    GgufWriter w;
    w.string("general.architecture", arch);
    w.u32(arch + ".context_length", 128);
    w.u32(arch + ".embedding_length", 32);
    w.u32(arch + ".block_count", 1);
    w.u32(arch + ".feed_forward_length", 64);
    w.u32(arch + ".attention.head_count", 4);
    w.u32(arch + ".attention.head_count_kv", 2);
    w.f32(arch + ".attention.layer_norm_rms_epsilon", 1e-6f);
    w.f32(arch + ".rope.freq_base", 10000.0f);
    if (tokenizer) {
      w.string("tokenizer.ggml.model", "llama");
      w.strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b",
                                          "\xe2\x96\x81"
                                          "a",
                                          "c", "d"});
      w.array<float>("tokenizer.ggml.scores", GgufWriter::kF32, {0, 0, 0, -1, -2, -3, -4, -5});
      w.array<int32_t>("tokenizer.ggml.token_type", GgufWriter::kI32, {2, 3, 3, 1, 1, 1, 1, 1});
      w.u32("tokenizer.ggml.bos_token_id", 1);
      w.u32("tokenizer.ggml.eos_token_id", 2);
      w.u32("tokenizer.ggml.unknown_token_id", 0);
      w.boolean("tokenizer.ggml.add_bos_token", true);
    }
    auto add = [&](const std::string& name, std::vector<uint64_t> ne) {
      if (skip.count(name)) return;
      if (auto it = shape.find(name); it != shape.end()) ne = it->second;
      size_t n = 1;
      for (uint64_t d : ne) n *= d;
      w.tensor_f32(name, ne, ramp(n));
    };
    add("token_embd.weight", {32, 8});
    add("output_norm.weight", {32});
    add("output.weight", {32, 8});
    add("blk.0.attn_norm.weight", {32});
    add("blk.0.attn_q.weight", {32, 32});
    add("blk.0.attn_k.weight", {32, 16});
    add("blk.0.attn_v.weight", {32, 16});
    add("blk.0.attn_output.weight", {32, 32});
    add("blk.0.ffn_norm.weight", {32});
    add("blk.0.ffn_gate.weight", {32, 64});
    add("blk.0.ffn_up.weight", {32, 64});
    add("blk.0.ffn_down.weight", {64, 32});
    return w;
  }
};

class GgufFiles : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::vector<uint8_t>& bytes) {
    const fs::path path = dir_ / name;
    GgufWriter::write(path, bytes);
    return path.string();
  }
  const etch::testing::TempDir temp_{"gguf"};
  const fs::path dir_ = temp_.path();
};

TEST(GgufReader, EveryValueType) {
  GgufWriter w;
  w.u8("u8", 200);
  w.i8("i8", -100);
  w.u16("u16", 60000);
  w.i16("i16", -30000);
  w.u32("u32", 4000000000u);
  w.i32("i32", -2000000000);
  w.u64("u64", 18000000000000000000ull);
  w.i64("i64", -9000000000000000000ll);
  w.f32("f32", 0.125f);
  w.f64("f64", -2.5e300);
  w.boolean("bool", true);
  w.string("string", "héllo");
  w.strings("strings", {"a", "", "ccc"});
  w.array<int16_t>("i16s", GgufWriter::kI16, {-1, 2, -3});
  w.array<double>("f64s", GgufWriter::kF64, {0.5, 1e-300});
  // A nested array: [[1, 2], [3]] of uint8.
  std::vector<uint8_t> nested;
  GgufWriter::put(nested, static_cast<uint32_t>(GgufWriter::kArray));
  GgufWriter::put(nested, static_cast<uint32_t>(GgufWriter::kArray));
  GgufWriter::put(nested, uint64_t{2});
  GgufWriter::put(nested, static_cast<uint32_t>(GgufWriter::kU8));
  GgufWriter::put(nested, uint64_t{2});
  nested.insert(nested.end(), {1, 2});
  GgufWriter::put(nested, static_cast<uint32_t>(GgufWriter::kU8));
  GgufWriter::put(nested, uint64_t{1});
  nested.push_back(3);
  w.raw_entry("nested", nested);
  const auto bytes = w.bytes();
  const gguf::File f = parse(bytes);

  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.metadata.size(), 16u);
  EXPECT_EQ(f.find("u8")->integer, 200);
  EXPECT_EQ(f.find("i8")->integer, -100);
  EXPECT_EQ(f.find("u16")->integer, 60000);
  EXPECT_EQ(f.find("i16")->integer, -30000);
  EXPECT_EQ(f.find("u32")->integer, 4000000000ll);
  EXPECT_EQ(f.find("i32")->integer, -2000000000);
  EXPECT_EQ(f.find("u64")->uinteger, 18000000000000000000ull);
  EXPECT_EQ(f.find("u64")->render(), "18000000000000000000");
  EXPECT_EQ(f.find("i64")->integer, -9000000000000000000ll);
  EXPECT_EQ(f.find("f32")->real, 0.125);
  EXPECT_EQ(f.find("f64")->real, -2.5e300);
  EXPECT_EQ(f.find("bool")->render(), "true");
  EXPECT_EQ(f.find("string")->string, "héllo");
  const gguf::Value* s = f.find("strings");
  ASSERT_TRUE(s->is_array());
  ASSERT_EQ(s->strings.size(), 3u);
  EXPECT_EQ(s->strings[2], "ccc");
  EXPECT_EQ(s->render(), "[3 × string]");
  const gguf::Value* i16s = f.find("i16s");
  EXPECT_EQ(i16s->int_at(0), -1);
  EXPECT_EQ(i16s->int_at(2), -3);
  EXPECT_EQ(f.find("f64s")->real_at(1), 1e-300);
  const gguf::Value* n = f.find("nested");
  ASSERT_EQ(n->arrays.size(), 2u);
  EXPECT_EQ(n->arrays[0].int_at(1), 2);
  EXPECT_EQ(n->arrays[1].count, 1u);
  EXPECT_EQ(n->arrays[1].int_at(0), 3);
  EXPECT_EQ(n->render(), "[2 × array]");
  EXPECT_EQ(f.find("missing"), nullptr);
}

TEST(GgufReader, AlignmentAndVersion2) {
  for (uint64_t alignment : {uint64_t{32}, uint64_t{64}, uint64_t{1}, uint64_t{4096}}) {
    Tiny tiny;
    GgufWriter w = tiny.writer();
    w.version = 2;
    w.alignment = alignment;
    if (alignment != 32) w.u32("general.alignment", static_cast<uint32_t>(alignment));
    const auto bytes = w.bytes();
    const gguf::File f = parse(bytes);
    EXPECT_EQ(f.version, 2u);
    EXPECT_EQ(f.alignment, alignment);
    EXPECT_EQ(f.data_offset % alignment, 0u);
    EXPECT_EQ(f.data_offset, w.layout.data_start);
    const gguf::TensorInfo* q = f.find_tensor("blk.0.attn_q.weight");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ((q->data - bytes.data()) % alignment, 0);
    const Model m = gguf::to_model(f);
    EXPECT_EQ(m.layers[0].wk.shape, (std::vector<int64_t>{16, 32}));
    std::vector<float> row(32);
    m.layers[0].wk.dequantize_row(1, row.data());
    EXPECT_EQ(row[0], ramp(32 * 16)[32]);
  }
  for (uint32_t bad : {0u, 3u, 48u}) {
    GgufWriter w;
    w.u32("general.alignment", bad);
    EXPECT_ERROR(parse(w.bytes()), "mem.gguf: ", "general.alignment", "power of two");
  }
  GgufWriter w;
  w.string("general.alignment", "32");
  EXPECT_ERROR(parse(w.bytes()), "general.alignment has type string");
}

TEST(GgufReader, WrongMagicAndVersions) {
  GgufWriter w;
  w.magic = 0x4c4c4747;  // "GGLL"
  EXPECT_ERROR(parse(w.bytes()), "mem.gguf: not a GGUF file");
  EXPECT_ERROR(parse({}), "mem.gguf: not a GGUF file");
  EXPECT_ERROR(parse({'G', 'G'}), "mem.gguf: not a GGUF file");
  w.magic = 0x46554747;
  w.version = 1;
  EXPECT_ERROR(parse(w.bytes()), "mem.gguf: GGUF version 1 is not supported");
  w.version = 99;
  EXPECT_ERROR(parse(w.bytes()), "mem.gguf: unsupported GGUF version 99");
}

TEST(GgufReader, TruncationAtEverySection) {
  Tiny tiny;
  GgufWriter w = tiny.writer();
  const auto full = w.bytes();
  const auto layout = w.layout;
  ASSERT_NO_THROW(gguf::to_model(parse(full)));
  auto cut = [&](size_t n) { return std::vector<uint8_t>(full.begin(), full.begin() + n); };

  EXPECT_ERROR(parse(cut(10)), "mem.gguf: ", "truncated in the header");
  // A cut early in the metadata leaves too few bytes for the claimed entries; a later one
  // falls inside an entry.
  EXPECT_ERROR(parse(cut(layout.header_end + 30)),
               "mem.gguf: ", "header claims 17 metadata entries");
  EXPECT_ERROR(parse(cut(layout.kv_end - 3)), "mem.gguf: ", "truncated in metadata entry 16 of 17",
               "tokenizer.ggml.add_bos_token");
  EXPECT_ERROR(parse(cut(layout.kv_end - 150)), "mem.gguf: ", "key in metadata entry 13 of 17",
               "claims 27 bytes but only 16 remain");
  EXPECT_ERROR(parse(cut(layout.kv_end + 12)), "mem.gguf: ", "tensor info 0 of 12");
  EXPECT_ERROR(parse(cut(layout.info_end - 3)), "mem.gguf: ", "truncated in tensor info 11");
  EXPECT_ERROR(parse(cut(layout.data_start + 100)), "mem.gguf: ", "runs past the end of the file");
  EXPECT_ERROR(parse(cut(full.size() - 1)), "mem.gguf: ", "'blk.0.ffn_down.weight'",
               "runs past the end");

  // Every prefix through the tensor directory, and a stride through the data: each is rejected
  // with a message naming the file (the counts claimed in the header cannot be met).
  for (size_t n = 0; n < full.size(); n += (n < layout.data_start + 64 ? 1 : 61)) {
    const std::string message = error_of([&] { parse(cut(n)); });
    ASSERT_EQ(message.rfind("mem.gguf: ", 0), 0u) << "prefix " << n << ": " << message;
  }
}

TEST(GgufReader, AbsurdCounts) {
  {
    GgufWriter w;
    w.n_tensors_override = uint64_t{1} << 62;
    EXPECT_ERROR(parse(w.bytes()), "mem.gguf: header claims 4611686018427387904 tensors");
  }
  {
    GgufWriter w;
    w.u32("a", 1);
    w.n_kv_override = uint64_t{1} << 62;
    EXPECT_ERROR(parse(w.bytes()), "mem.gguf: header claims 4611686018427387904 metadata entries");
  }
  {
    GgufWriter w;  // a key whose length says 2^60 bytes
    w.n_kv_override = 1;
    auto bytes = w.bytes();
    bytes.resize(w.layout.header_end);
    GgufWriter::put(bytes, uint64_t{1} << 60);
    bytes.insert(bytes.end(), 16, 'k');
    EXPECT_ERROR(parse(bytes),
                 "mem.gguf: key in metadata entry 0 of 1 claims 1152921504606846976 bytes");
  }
  {
    GgufWriter w;  // a string value of 2^60 bytes
    std::vector<uint8_t> v;
    GgufWriter::put(v, static_cast<uint32_t>(GgufWriter::kString));
    GgufWriter::put(v, uint64_t{1} << 60);
    v.insert(v.end(), 20, 'x');
    w.raw_entry("general.name", v);
    EXPECT_ERROR(parse(w.bytes()), "mem.gguf: string value", "('general.name')",
                 "claims 1152921504606846976 bytes");
  }
  {
    GgufWriter w;  // arrays far longer than the file
    for (auto element : {GgufWriter::kString, GgufWriter::kU32, GgufWriter::kArray}) {
      GgufWriter a;
      std::vector<uint8_t> v;
      GgufWriter::put(v, static_cast<uint32_t>(GgufWriter::kArray));
      GgufWriter::put(v, static_cast<uint32_t>(element));
      GgufWriter::put(v, uint64_t{1} << 60);
      v.insert(v.end(), 64, 0);
      a.raw_entry("tokenizer.ggml.tokens", v);
      EXPECT_ERROR(
          parse(a.bytes()),
          "mem.gguf: metadata key 'tokenizer.ggml.tokens' claims an array of 1152921504606846976");
    }
  }
  {
    GgufWriter w;  // unknown value type
    std::vector<uint8_t> v;
    GgufWriter::put(v, uint32_t{13});
    GgufWriter::put(v, uint64_t{0});
    w.raw_entry("odd", v);
    EXPECT_ERROR(parse(w.bytes()), "mem.gguf: metadata key 'odd' has unknown value type 13");
  }
  {
    GgufWriter w;  // arrays nested 9 deep
    std::vector<uint8_t> v;
    GgufWriter::put(v, static_cast<uint32_t>(GgufWriter::kArray));
    for (int i = 0; i < 9; ++i) {
      GgufWriter::put(v, static_cast<uint32_t>(GgufWriter::kArray));
      GgufWriter::put(v, uint64_t{1});
    }
    GgufWriter::put(v, static_cast<uint32_t>(GgufWriter::kU8));
    GgufWriter::put(v, uint64_t{0});
    w.raw_entry("deep", v);
    EXPECT_ERROR(parse(w.bytes()), "mem.gguf: metadata key 'deep' nests arrays deeper than 8");
  }
  {
    GgufWriter w;
    w.u32("dup", 1);
    w.u32("dup", 2);
    EXPECT_ERROR(parse(w.bytes()), "mem.gguf: duplicate metadata key 'dup'");
  }
}

TEST(GgufReader, BadTensorInfos) {
  auto one = [](uint32_t type, std::vector<uint64_t> ne, size_t bytes = 64) {
    GgufWriter w;
    w.tensor("t", type, std::move(ne), std::vector<uint8_t>(bytes));
    return w.bytes();
  };
  // ne product overflowing int64: 2^32 * 2^32 * 4.
  EXPECT_ERROR(parse(one(0, {uint64_t{1} << 32, uint64_t{1} << 32, 4})),
               "mem.gguf: tensor 't' element count overflows 64 bits");
  EXPECT_ERROR(parse(one(0, {1, uint64_t{1} << 63})),
               "mem.gguf: tensor 't' dimension 1 is negative");
  // Elements fit int64, bytes do not: 2^62 f32 values.
  EXPECT_ERROR(parse(one(0, {uint64_t{1} << 62})), "mem.gguf: tensor 't' byte size overflows");
  // Fits 64 bits, but far past the end of the file.
  EXPECT_ERROR(parse(one(0, {uint64_t{1} << 40})), "mem.gguf: tensor 't' data",
               "runs past the end");
  EXPECT_ERROR(parse(one(0, {2, 2, 2, 2, 2})), "mem.gguf: tensor 't' has 5 dimensions");
  EXPECT_ERROR(parse(one(0, {})), "mem.gguf: tensor 't' has 0 dimensions");
  EXPECT_ERROR(parse(one(77, {32})), "mem.gguf: tensor 't' has unknown type 77");
  EXPECT_ERROR(parse(one(16, {256})),
               "mem.gguf: tensor 't' has type 16 (iq2_xxs), which etch does not support");
  EXPECT_ERROR(
      parse(one(8, {33, 2})),
      "mem.gguf: tensor 't' has rows of 33 elements, not a multiple of the q8_0 block size 32");
  {
    GgufWriter w;
    w.tensor("t", 0, {4}, std::vector<uint8_t>(16), uint64_t{1} << 40);
    w.write_data = false;
    auto bytes = w.bytes();
    bytes.resize(w.layout.data_start + 16);
    EXPECT_ERROR(
        parse(bytes),
        "mem.gguf: tensor 't' data (16 bytes at data offset 1099511627776) runs past the end");
  }
  {
    GgufWriter w;
    w.tensor("t", 0, {4}, std::vector<uint8_t>(16), 8);
    EXPECT_ERROR(parse(w.bytes()),
                 "mem.gguf: tensor 't' offset 8 is not a multiple of the alignment 32");
  }
  {
    GgufWriter w;
    w.tensor_f32("t", {4}, {1, 2, 3, 4});
    w.tensor_f32("t", {4}, {1, 2, 3, 4});
    EXPECT_ERROR(parse(w.bytes()), "mem.gguf: duplicate tensor 't'");
  }
}

TEST_F(GgufFiles, TinyLlamaLoads) {
  Tiny tiny;
  const std::string path = write("tiny.gguf", tiny.writer().bytes());
  const Model m = load_model(path);
  EXPECT_EQ(m.format, "gguf");
  EXPECT_EQ(m.path, path);
  EXPECT_EQ(m.config.vocab_size, 8);
  EXPECT_EQ(m.config.hidden_size, 32);
  EXPECT_EQ(m.config.heads, 4);
  EXPECT_EQ(m.config.kv_heads, 2);
  EXPECT_EQ(m.config.head_dim, 8);
  EXPECT_EQ(m.config.ffn_size, 64);
  EXPECT_EQ(m.config.context_length, 128);
  EXPECT_EQ(m.config.rope.dims, 8);
  EXPECT_EQ(m.config.rope.layout, RopeLayout::kInterleaved);
  EXPECT_EQ(m.config.rope.scaling, RopeScaling::kNone);
  EXPECT_FLOAT_EQ(static_cast<float>(m.config.rms_eps), 1e-6f);
  EXPECT_FALSE(m.config.tied_embeddings);
  EXPECT_FALSE(m.config.qkv_bias);
  EXPECT_EQ(m.tensors.size(), 12u);
  EXPECT_EQ(m.layers[0].w_down.shape, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(m.files.size(), 1u);
  EXPECT_EQ(m.vocab.size(), 8);
  EXPECT_EQ(m.vocab.tokens[5],
            "\xe2\x96\x81"
            "a");
  EXPECT_EQ(m.vocab.scores[7], -5.0f);
  EXPECT_EQ(m.vocab.types[0], tokenize::TokenType::kUnknown);
  EXPECT_EQ(m.vocab.bos_id, 1);
  EXPECT_EQ(m.vocab.eos_id, 2);
  EXPECT_EQ(m.vocab.unk_id, 0);
  EXPECT_TRUE(m.vocab.add_bos);
  EXPECT_TRUE(m.vocab.add_space_prefix);
  std::map<std::string, std::string> meta(m.metadata.begin(), m.metadata.end());
  EXPECT_EQ(meta["tokenizer.ggml.tokens"], "[8 × string]");
  EXPECT_EQ(meta["llama.block_count"], "1");
  EXPECT_EQ(meta["general.architecture"], "llama");

  const tokenize::Vocabulary v = load_gguf_vocabulary(path);
  EXPECT_EQ(v.tokens, m.vocab.tokens);
}

TEST_F(GgufFiles, TiedEmbeddingsBiasesAndIntegerKeyTypes) {
  Tiny tiny;
  tiny.skip = {"output.weight"};
  GgufWriter w = tiny.writer();
  w.tensor_f32("blk.0.attn_q.bias", {32}, ramp(32));
  w.tensor_f32("blk.0.attn_k.bias", {16}, ramp(16));
  w.tensor_f32("blk.0.attn_v.bias", {16}, ramp(16));
  w.tensor_f32("blk.0.attn_output.bias", {32}, ramp(32));
  const Model m = gguf::to_model(parse(w.bytes()));
  EXPECT_TRUE(m.config.tied_embeddings);
  EXPECT_EQ(m.output.data, m.token_embedding.data);
  EXPECT_TRUE(m.config.qkv_bias);
  ASSERT_TRUE(m.layers[0].bk.has_value());
  EXPECT_EQ(m.layers[0].bk->shape, (std::vector<int64_t>{16}));
  ASSERT_TRUE(m.layers[0].bo.has_value());
  EXPECT_EQ(m.layers[0].bo->shape, (std::vector<int64_t>{32}));

  // A q bias without its k and v biases would leave the engines half a bias set.
  GgufWriter partial = tiny.writer();
  partial.tensor_f32("blk.0.attn_q.bias", {32}, ramp(32));
  EXPECT_ERROR(gguf::to_model(parse(partial.bytes())), "layer 0 has 1 of the q, k and v biases");

  // Integer keys may come as any integer type.
  GgufWriter k;
  k.string("general.architecture", "llama");
  k.u64("llama.context_length", 128);
  k.i32("llama.embedding_length", 32);
  k.u8("llama.block_count", 1);
  k.i64("llama.feed_forward_length", 64);
  k.u16("llama.attention.head_count", 4);
  k.i16("llama.attention.head_count_kv", 4);
  k.u32("llama.attention.key_length", 8);
  k.f64("llama.attention.layer_norm_rms_epsilon", 1e-5);
  for (const char* name : {"token_embd.weight", "output.weight"})
    k.tensor_f32(name, {32, 8}, ramp(256));
  for (const char* name : {"output_norm.weight", "blk.0.attn_norm.weight", "blk.0.ffn_norm.weight"})
    k.tensor_f32(name, {32}, ramp(32));
  for (const char* name : {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight",
                           "blk.0.attn_output.weight"})
    k.tensor_f32(name, {32, 32}, ramp(1024));
  k.tensor_f32("blk.0.ffn_gate.weight", {32, 64}, ramp(2048));
  k.tensor_f32("blk.0.ffn_up.weight", {32, 64}, ramp(2048));
  k.tensor_f32("blk.0.ffn_down.weight", {64, 32}, ramp(2048));
  const Model m2 = gguf::to_model(parse(k.bytes()));
  EXPECT_EQ(m2.config.kv_heads, 4);
  EXPECT_EQ(m2.config.context_length, 128);
  EXPECT_EQ(m2.config.rope.theta, 10000.0);
  EXPECT_TRUE(m2.vocab.tokens.empty());
}

TEST_F(GgufFiles, RopeScalingKeysAndFreqs) {
  {
    Tiny tiny;
    GgufWriter w = tiny.writer();
    w.string("llama.rope.scaling.type", "linear");
    w.f32("llama.rope.scaling.factor", 4.0f);
    w.u32("llama.rope.scaling.original_context_length", 2048);
    w.tensor_f32("rope_freqs.weight", {4}, {1, 2, 4, 8});
    const Model m = gguf::to_model(parse(w.bytes()));
    EXPECT_EQ(m.config.rope.scaling, RopeScaling::kLinear);
    EXPECT_EQ(m.config.rope.factor, 4.0);
    EXPECT_EQ(m.config.rope.original_context, 2048);
    EXPECT_EQ(m.config.rope.freq_factors, (std::vector<float>{1, 2, 4, 8}));
  }
  {
    Tiny tiny;
    GgufWriter w = tiny.writer();
    w.string("llama.rope.scaling.type", "llama3");
    EXPECT_EQ(gguf::to_model(parse(w.bytes())).config.rope.scaling, RopeScaling::kLlama3);
  }
  {
    Tiny tiny;
    GgufWriter w = tiny.writer();
    w.string("llama.rope.scaling.type", "yarn");
    EXPECT_ERROR(gguf::to_model(parse(w.bytes())),
                 "mem.gguf: RoPE scaling 'yarn' is not supported");
  }
  {
    Tiny tiny;
    GgufWriter w = tiny.writer();
    w.tensor_f32("rope_freqs.weight", {3}, {1, 2, 4});
    EXPECT_ERROR(gguf::to_model(parse(w.bytes())),
                 "mem.gguf: tensor 'rope_freqs.weight' has 3 elements, expected 4");
  }
}

TEST_F(GgufFiles, ModelContradictions) {
  {
    Tiny tiny;
    tiny.shape["blk.0.attn_q.weight"] = {32, 24};
    const std::string path = write("q.gguf", tiny.writer().bytes());
    EXPECT_ERROR(load_gguf(path), path.c_str(), "tensor 'blk.0.attn_q.weight' has shape [24, 32]",
                 "implies [32, 32]");
  }
  {
    Tiny tiny;
    tiny.skip = {"blk.0.attn_k.weight"};
    const std::string path = write("k.gguf", tiny.writer().bytes());
    EXPECT_ERROR(load_gguf(path), path.c_str(), "tensor 'blk.0.attn_k.weight' is missing");
  }
  {
    Tiny tiny;
    tiny.skip = {"token_embd.weight"};
    EXPECT_ERROR(gguf::to_model(parse(tiny.writer().bytes())),
                 "mem.gguf: tensor 'token_embd.weight' is missing");
  }
  {
    Tiny tiny;
    tiny.arch = "gpt2";
    EXPECT_ERROR(gguf::to_model(parse(tiny.writer().bytes())),
                 "mem.gguf: architecture 'gpt2' is not supported");
  }
  {
    Tiny tiny;
    GgufWriter w = tiny.writer();
    w.u32("llama.attention.head_count", 5);  // duplicate: rejected by the reader
    EXPECT_ERROR(parse(w.bytes()), "duplicate metadata key 'llama.attention.head_count'");
  }
  {
    GgufWriter w = Tiny{}.writer();
    w.string("llama.attention.key_length", "8");
    EXPECT_ERROR(gguf::to_model(parse(w.bytes())),
                 "mem.gguf: llama.attention.key_length has type string, expected an integer");
  }
  {
    GgufWriter w;
    w.string("general.architecture", "llama");
    w.u32("llama.context_length", 128);
    EXPECT_ERROR(gguf::to_model(parse(w.bytes())),
                 "mem.gguf: missing metadata key llama.embedding_length");
  }
  {
    GgufWriter w;
    w.string("general.architecture", "llama");
    w.i32("llama.context_length", -5);
    EXPECT_ERROR(gguf::to_model(parse(w.bytes())),
                 "mem.gguf: llama.context_length = -5 is out of range");
  }
  const std::string missing = (dir_ / "nope.gguf").string();
  EXPECT_ERROR(load_model(missing), missing.c_str(), "no such file");
  EXPECT_ERROR(load_gguf(missing), missing.c_str(), "cannot open");
  EXPECT_ERROR(load_gguf_vocabulary(missing), missing.c_str(), "cannot open");
}

TEST_F(GgufFiles, VocabularyChecks) {
  {
    Tiny tiny;
    tiny.tokenizer = false;
    GgufWriter w = tiny.writer();
    w.string("tokenizer.ggml.model", "gpt2");
    w.string("tokenizer.ggml.pre", "llama-bpe");
    w.strings("tokenizer.ggml.tokens", {"a", "b", "ab", "c", "d", "e", "f", "g"});
    w.strings("tokenizer.ggml.merges", {"a b"});
    w.i32("tokenizer.ggml.bos_token_id", 0);
    w.i32("tokenizer.ggml.padding_token_id", -1);
    const tokenize::Vocabulary v = gguf::to_vocabulary(parse(w.bytes()));
    EXPECT_EQ(v.kind, tokenize::TokenizerKind::kByteLevelBpe);
    EXPECT_EQ(v.pre_tokenizer, "llama-bpe");
    EXPECT_EQ(v.merges, (std::vector<std::string>{"a b"}));
    EXPECT_FALSE(v.add_space_prefix);
    EXPECT_EQ(v.bos_id, 0);
    EXPECT_EQ(v.pad_id, -1);
  }
  auto vocab = [](auto&& edit) {
    GgufWriter w;
    w.string("tokenizer.ggml.model", "llama");
    w.strings("tokenizer.ggml.tokens", {"a", "b", "c"});
    edit(w);
    return gguf::to_vocabulary(parse(w.bytes()));
  };
  EXPECT_ERROR(vocab([](GgufWriter& w) {
                 w.array<float>("tokenizer.ggml.scores", GgufWriter::kF32, {1, 2});
               }),
               "mem.gguf: tokenizer.ggml.scores has 2 entries but there are 3 tokens");
  EXPECT_ERROR(vocab([](GgufWriter& w) {
                 w.array<float>("tokenizer.ggml.scores", GgufWriter::kF32, {1, 2, 3});
                 w.array<int32_t>("tokenizer.ggml.token_type", GgufWriter::kI32, {1, 1});
               }),
               "mem.gguf: tokenizer.ggml.token_type has 2 entries but there are 3 tokens");
  EXPECT_ERROR(vocab([](GgufWriter& w) {
                 w.array<float>("tokenizer.ggml.scores", GgufWriter::kF32, {1, 2, 3});
                 w.u32("tokenizer.ggml.eos_token_id", 3);
               }),
               "mem.gguf: tokenizer.ggml.eos_token_id = 3 is not a token");
  EXPECT_ERROR(vocab([](GgufWriter& w) {
                 w.array<float>("tokenizer.ggml.scores", GgufWriter::kF32, {1, 2, 3});
                 w.array<int32_t>("tokenizer.ggml.token_type", GgufWriter::kI32, {1, 1, 9});
               }),
               "mem.gguf: token 2 has unknown token type 9");
  EXPECT_ERROR(vocab([](GgufWriter& w) { w.u32("x", 0); }),
               "mem.gguf: missing metadata key tokenizer.ggml.scores");
  {
    GgufWriter w;
    w.string("tokenizer.ggml.model", "bert");
    EXPECT_ERROR(gguf::to_vocabulary(parse(w.bytes())),
                 "mem.gguf: unsupported tokenizer model 'bert'");
  }
  {
    GgufWriter w;
    EXPECT_ERROR(gguf::to_vocabulary(parse(w.bytes())), "mem.gguf: no tokenizer");
  }
  {
    GgufWriter w;
    w.string("tokenizer.ggml.model", "llama");
    w.array<int32_t>("tokenizer.ggml.tokens", GgufWriter::kI32, {1, 2});
    EXPECT_ERROR(
        gguf::to_vocabulary(parse(w.bytes())),
        "mem.gguf: tokenizer.ggml.tokens has type array of int32, expected an array of strings");
  }
}

}  // namespace
}  // namespace etch::import
