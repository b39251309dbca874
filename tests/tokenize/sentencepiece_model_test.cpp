// The tokenizer.model reader on valid, hand-built and hostile input.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.hpp"
#include "test_support.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::tokenize {
namespace {

// A protobuf wire-format writer, just enough to build ModelProtos by hand.
class Proto {
 public:
  Proto& varint(uint32_t field, uint64_t value) {
    tag(field, 0);
    put_varint(value);
    return *this;
  }
  Proto& fixed32(uint32_t field, uint32_t value) {
    tag(field, 5);
    for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<char>(value >> (8 * i)));
    return *this;
  }
  Proto& fixed64(uint32_t field, uint64_t value) {
    tag(field, 1);
    for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<char>(value >> (8 * i)));
    return *this;
  }
  Proto& score(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    return fixed32(2, bits);
  }
  Proto& string(uint32_t field, const std::string& value) {
    tag(field, 2);
    put_varint(value.size());
    bytes_ += value;
    return *this;
  }
  Proto& message(uint32_t field, const Proto& value) { return string(field, value.bytes_); }
  Proto& raw(const std::string& value) {
    bytes_ += value;
    return *this;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  void tag(uint32_t field, uint32_t wire) { put_varint((uint64_t{field} << 3) | wire); }
  void put_varint(uint64_t value) {
    while (value >= 0x80) {
      bytes_.push_back(static_cast<char>(value | 0x80));
      value >>= 7;
    }
    bytes_.push_back(static_cast<char>(value));
  }
  std::string bytes_;
};

Proto piece(const std::string& text, float score, int type) {
  Proto p;
  p.string(1, text).score(score);
  if (type != 1) p.varint(3, static_cast<uint64_t>(type));
  return p;
}

Proto bpe_trainer() {
  return Proto().varint(3, 2).varint(35, 1);
}
Proto identity_normalizer() {
  return Proto().string(1, "identity").varint(3, 1).varint(4, 0);
}

// <unk> <s> </s> ▁ a b ▁a ab
Proto small_model() {
  Proto model;
  model.message(1, piece("<unk>", 0, 2))
      .message(1, piece("<s>", 0, 3))
      .message(1, piece("</s>", 0, 3))
      .message(1, piece("\xE2\x96\x81", -1, 1))
      .message(1, piece("a", -2, 1))
      .message(1, piece("b", -3, 1))
      .message(1, piece("\xE2\x96\x81"
                        "a",
                        -0.5f, 1))
      .message(1, piece("ab", -1.5f, 1));
  model.message(2, bpe_trainer()).message(3, identity_normalizer());
  return model;
}

Vocabulary parse(const std::string& bytes, const std::string& name = "test.model") {
  return parse_sentencepiece_model(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), name);
}

// Expects an Error whose message names the file and contains `what`.
void expect_error(const std::string& bytes, const std::string& what) {
  const std::string message = etch::testing::error_of([&] { parse(bytes, "bad.model"); });
  EXPECT_EQ(message.rfind("bad.model: ", 0), 0u) << message;
  EXPECT_NE(message.find(what), std::string::npos) << message;
}

TEST(SentencePieceModel, ReadsAHandBuiltModel) {
  const Vocabulary vocab = parse(small_model().bytes());
  ASSERT_EQ(vocab.size(), 8);
  EXPECT_EQ(vocab.tokens[6],
            "\xE2\x96\x81"
            "a");
  EXPECT_EQ(vocab.scores[6], -0.5f);
  EXPECT_EQ(vocab.types[0], TokenType::kUnknown);
  EXPECT_EQ(vocab.types[1], TokenType::kControl);
  EXPECT_EQ(vocab.types[4], TokenType::kNormal);
  EXPECT_EQ(vocab.unk_id, 0);
  EXPECT_EQ(vocab.bos_id, 1);
  EXPECT_EQ(vocab.eos_id, 2);
  EXPECT_EQ(vocab.pad_id, -1);
  EXPECT_TRUE(vocab.add_space_prefix);
  EXPECT_FALSE(vocab.remove_extra_whitespaces);
  const Tokenizer tokenizer(vocab);
  EXPECT_EQ(tokenizer.encode("ab a", true), (std::vector<int32_t>{1, 6, 5, 6}));
}

TEST(SentencePieceModel, ProtoDefaultsApplyToAbsentFields) {
  // No normalizer_spec: SentencePiece's defaults (dummy prefix, remove extra whitespace).
  Proto model;
  model.message(1, piece("<unk>", 0, 2)).message(1, piece("a", 0, 1)).message(1, piece("b", 0, 1));
  model.message(2, Proto().varint(3, 2));
  const Vocabulary vocab = parse(model.bytes());
  EXPECT_TRUE(vocab.add_space_prefix);
  EXPECT_TRUE(vocab.remove_extra_whitespaces);
  EXPECT_EQ(vocab.unk_id, 0);
  EXPECT_EQ(vocab.bos_id, 1);
  EXPECT_EQ(vocab.eos_id, 2);
  // Negative ids are written as 10-byte varints.
  Proto explicit_ids = model;
  explicit_ids.message(2, Proto().varint(3, 2).varint(41, static_cast<uint64_t>(-1)).varint(42, 1));
  const Vocabulary with_ids = parse(explicit_ids.bytes());
  EXPECT_EQ(with_ids.bos_id, -1);
  EXPECT_FALSE(with_ids.add_bos);
  EXPECT_EQ(with_ids.eos_id, 1);
}

TEST(SentencePieceModel, SkipsUnknownFieldsOfEveryWireType) {
  Proto model = small_model();
  model.varint(99, 12345).fixed64(100, 7).fixed32(101, 9).string(102, "ignored");
  Proto odd_piece = piece("c", -4, 1);
  odd_piece.varint(50, 1).string(51, "x").fixed64(52, 1);
  model.message(1, odd_piece);
  const Vocabulary vocab = parse(model.bytes());
  EXPECT_EQ(vocab.size(), 9);
  EXPECT_EQ(vocab.tokens[8], "c");
}

TEST(SentencePieceModel, RejectsUnsupportedModels) {
  Proto unigram;
  unigram.message(1, piece("<unk>", 0, 2)).message(2, Proto().varint(3, 1));
  expect_error(unigram.bytes(), "unigram SentencePiece models are not supported");
  Proto no_trainer;
  no_trainer.message(1, piece("<unk>", 0, 2));
  expect_error(no_trainer.bytes(), "unigram SentencePiece models are not supported");
  Proto word;
  word.message(1, piece("<unk>", 0, 2)).message(2, Proto().varint(3, 3));
  expect_error(word.bytes(), "word SentencePiece models");
  Proto nfkc = small_model();
  nfkc.message(3, Proto().string(1, "nmt_nfkc").string(2, std::string(64, 'x')));
  expect_error(nfkc.bytes(), "normalizer 'nmt_nfkc' is not supported");
}

TEST(SentencePieceModel, RejectsMalformedStructure) {
  expect_error("", "empty file");
  expect_error(Proto().message(2, bpe_trainer()).bytes(), "empty vocabulary");

  Proto bad_bos = small_model();
  bad_bos.message(2, bpe_trainer().varint(41, 8));
  expect_error(bad_bos.bytes(), "bos_id 8 out of range");
  Proto bad_unk = small_model();
  bad_unk.message(2, bpe_trainer().varint(40, static_cast<uint64_t>(-7)));
  expect_error(bad_unk.bytes(), "unk_id -7 out of range");
  Proto huge_id = small_model();
  huge_id.message(2, bpe_trainer().varint(42, uint64_t{1} << 40));
  expect_error(huge_id.bytes(), "does not fit int32");

  expect_error(Proto().varint(1, 5).bytes(), "pieces (field 1) has wire type varint");
  expect_error(Proto().message(1, Proto().string(1, "a").varint(2, 3)).bytes(),
               "score (field 2) has wire type varint");
  expect_error(Proto().message(1, Proto().string(1, "a").varint(3, 9)).bytes(),
               "unknown piece type 9");
  expect_error(Proto().message(2, Proto().string(3, "x")).bytes(), "model_type (field 3)");
  expect_error(std::string("\x0b\x0c", 2), "unsupported wire type 3");  // a group
  expect_error(std::string("\x0e", 1), "unsupported wire type 6");
  expect_error(std::string("\x00\x01", 2), "invalid field number 0");
}

TEST(SentencePieceModel, RejectsBadVarintsAndLengths) {
  expect_error(std::string("\x0a", 1), "truncated length");
  expect_error(std::string("\x0a\x80", 2), "truncated length");
  expect_error(std::string("\x80", 1), "truncated field tag");
  expect_error(std::string(11, '\xff'), "field tag");
  expect_error(std::string("\x08") + std::string(9, '\xff') + "\x7f", "overflows 64 bits");
  // Lengths far past the end, up to 2^64-1: an error, not an allocation.
  expect_error(std::string("\x0a\x05"
                           "abc",
                           5),
               "claims 5 bytes but only 3 remain");
  expect_error(std::string("\x0a") + std::string(9, '\xff') + "\x01",
               "claims 18446744073709551615");
  expect_error(Proto()
                   .message(1, Proto().raw(std::string("\x0a\x7f"
                                                       "a",
                                                       3)))
                   .bytes(),
               "piece 0 at byte");
  expect_error(Proto().message(1, Proto().raw(std::string("\x15\x00\x00", 3))).bytes(),
               "truncated fixed32");
  expect_error(Proto().message(1, Proto().raw(std::string("\x11\x00", 2))).bytes(),
               "truncated fixed64");
  // A field number past 2^29 cannot be a protobuf field.
  expect_error(Proto().varint(1u << 31, 0).bytes(), "invalid field number");
}

TEST(SentencePieceModel, EveryTruncationFailsCleanly) {
  // Every cut of a small model, then cuts spread over the fixture. Both write pieces, then
  // trainer_spec, then normalizer_spec: cut before the normalizer starts, a model lacks its BPE
  // model_type or is malformed; a cut inside the normalizer may still be a valid message.
  auto check_cuts = [](const std::string& bytes, const std::vector<size_t>& cuts) {
    const size_t normalizer_start = bytes.rfind(std::string("\x1a", 1));
    ASSERT_NE(normalizer_start, std::string::npos);
    size_t failures = 0;
    for (const size_t size : cuts) {
      const std::string message =
          etch::testing::error_of([&] { parse(bytes.substr(0, size), "cut.model"); });
      if (message.empty()) {
        EXPECT_GE(size, normalizer_start) << "truncated at " << size;
      } else {
        ++failures;
        EXPECT_EQ(message.rfind("cut.model: ", 0), 0u) << message;
      }
    }
    EXPECT_GT(failures, cuts.size() / 2);
  };
  const std::string small = small_model().bytes();
  std::vector<size_t> cuts;
  for (size_t size = 0; size < small.size(); ++size) cuts.push_back(size);
  check_cuts(small, cuts);

  const std::string fixture =
      etch::testing::read_text(etch::testing::fixtures() / "tokenizers" / "tok4096.model");
  ASSERT_GT(fixture.size(), 1000u);
  cuts.clear();
  for (size_t size = 0; size < 64; ++size) cuts.push_back(size);
  for (size_t k = 1; k < 16; ++k) cuts.push_back(fixture.size() * k / 16);
  for (size_t size = fixture.size() - 40; size < fixture.size(); ++size) cuts.push_back(size);
  check_cuts(fixture, cuts);
}

TEST(SentencePieceModel, CorruptedBytesNeverCrash) {
  const std::string bytes =
      etch::testing::read_text(etch::testing::fixtures() / "tokenizers" / "tok4096.model");
  ASSERT_FALSE(bytes.empty());
  uint64_t state = 12345;
  for (int round = 0; round < 30; ++round) {
    std::string corrupt = bytes;
    for (int k = 0; k < 4; ++k) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      corrupt[(state >> 20) % corrupt.size()] = static_cast<char>(state >> 56);
    }
    try {
      const Tokenizer tokenizer(parse(corrupt));
      tokenizer.decode(tokenizer.encode("In the beginning God created", true));
    } catch (const Error&) {
    }
  }
}

TEST(SentencePieceModel, MissingFileIsNamed) {
  etch::testing::expect_error([] { load_sentencepiece_model("/nonexistent/tokenizer.model"); },
                              {"/nonexistent/tokenizer.model"});
}

}  // namespace
}  // namespace etch::tokenize
