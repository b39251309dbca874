// Reader for SentencePiece's ModelProto (tokenizer.model), written against the protobuf wire
// format directly so that etch needs neither libprotobuf nor libsentencepiece. Only the
// fields a BPE tokenizer needs are decoded; everything else is skipped by wire type.
//
// The input is treated as hostile: every length is checked against the bytes that remain
// before anything is read or allocated, so a truncated or lying file gives an Error naming
// the file, never a crash or an allocation larger than the file itself.
#include <cstring>
#include <limits>

#include "core/error.hpp"
#include "core/mapped_file.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::tokenize {
namespace {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

const char* wire_type_name(uint32_t wire) {
  switch (wire) {
    case kVarint:
      return "varint";
    case kFixed64:
      return "fixed64";
    case kLengthDelimited:
      return "length-delimited";
    case kStartGroup:
      return "start-group";
    case kEndGroup:
      return "end-group";
    case kFixed32:
      return "fixed32";
    default:
      return "invalid";
  }
}

struct Field {
  uint32_t number = 0;
  uint32_t wire = 0;
  uint64_t value = 0;              // varint, fixed32 and fixed64 payloads
  std::span<const uint8_t> bytes;  // length-delimited payload
  size_t offset = 0;               // of the tag, for error messages
};

// Reads one message's fields in order. `context` names the message in errors
// ("trainer_spec", "piece 17") so that a user can tell which part of the file is broken.
class MessageReader {
 public:
  MessageReader(std::span<const uint8_t> bytes, size_t base, const std::string& file,
                std::string context)
      : bytes_(bytes), base_(base), file_(file), context_(std::move(context)) {}

  bool next(Field& field) {
    if (pos_ >= bytes_.size()) return false;
    field.offset = base_ + pos_;
    const uint64_t tag = varint("field tag");
    field.number = static_cast<uint32_t>(tag >> 3);
    field.wire = static_cast<uint32_t>(tag & 7);
    if (tag >> 3 == 0 || tag >> 32 != 0) fail("invalid field number {}", tag >> 3);
    switch (field.wire) {
      case kVarint:
        field.value = varint("varint value");
        break;
      case kFixed64:
        field.value = fixed(8);
        break;
      case kFixed32:
        field.value = fixed(4);
        break;
      case kLengthDelimited: {
        const uint64_t length = varint("length");
        if (length > bytes_.size() - pos_) {
          fail("field {} claims {} bytes but only {} remain", field.number, length,
               bytes_.size() - pos_);
        }
        field.bytes = bytes_.subspan(pos_, static_cast<size_t>(length));
        pos_ += static_cast<size_t>(length);
        break;
      }
      default:
        // Groups are a deprecated proto2 encoding SentencePiece never writes; refusing them
        // keeps skipping non-recursive.
        fail("field {} has unsupported wire type {} ({})", field.number, field.wire,
             wire_type_name(field.wire));
    }
    return true;
  }

  size_t child_base(const Field& field) const {
    return base_ + static_cast<size_t>(field.bytes.data() - bytes_.data());
  }

  void expect(const Field& field, uint32_t wire, const char* what) const {
    if (field.wire != wire) {
      fail_at(field.offset, "{} (field {}) has wire type {}, expected {}", what, field.number,
              wire_type_name(field.wire), wire_type_name(wire));
    }
  }

  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) const {
    fail_at(base_ + pos_, format, std::forward<Args>(args)...);
  }

  template <typename... Args>
  [[noreturn]] void fail_at(size_t offset, fmt::format_string<Args...> format,
                            Args&&... args) const {
    fail_file(file_, "malformed SentencePiece model: {} at byte {}: {}", context_, offset,
              fmt::format(format, std::forward<Args>(args)...));
  }

 private:
  uint64_t varint(const char* what) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= bytes_.size()) fail("truncated {}", what);
      const uint8_t byte = bytes_[pos_++];
      // The tenth byte may only carry the top bit of a 64-bit value.
      if (shift == 63 && byte > 1) fail("{} overflows 64 bits", what);
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return result;
    }
    fail("{} longer than 10 bytes", what);
  }

  uint64_t fixed(size_t size) {
    if (bytes_.size() - pos_ < size) fail("truncated fixed{} value", size * 8);
    uint64_t result = 0;
    for (size_t i = 0; i < size; ++i) result |= static_cast<uint64_t>(bytes_[pos_ + i]) << (8 * i);
    pos_ += size;
    return result;
  }

  std::span<const uint8_t> bytes_;
  size_t base_;
  size_t pos_ = 0;
  const std::string& file_;
  std::string context_;
};

float as_float(uint64_t bits) {
  const uint32_t narrow = static_cast<uint32_t>(bits);
  float value;
  std::memcpy(&value, &narrow, sizeof value);
  return value;
}

// proto2 int32 fields are sign-extended to 64 bits on the wire.
int64_t as_int32(const MessageReader& reader, const Field& field, const char* what) {
  const auto value = static_cast<int64_t>(field.value);
  if (value < std::numeric_limits<int32_t>::min() || value > std::numeric_limits<int32_t>::max()) {
    reader.fail_at(field.offset, "{} {} does not fit int32", what, value);
  }
  return value;
}

struct TrainerSpec {
  int64_t model_type = 1;  // proto2 default: UNIGRAM
  int64_t unk_id = 0;
  int64_t bos_id = 1;
  int64_t eos_id = 2;
  int64_t pad_id = -1;
  bool byte_fallback = false;
};

struct NormalizerSpec {
  std::string name;
  size_t charsmap_bytes = 0;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

void read_piece(MessageReader& reader, Vocabulary& vocab) {
  std::string piece;
  float score = 0.0f;
  int64_t type = 1;  // NORMAL
  Field field;
  while (reader.next(field)) {
    switch (field.number) {
      case 1:
        reader.expect(field, kLengthDelimited, "piece");
        piece.assign(reinterpret_cast<const char*>(field.bytes.data()), field.bytes.size());
        break;
      case 2:
        reader.expect(field, kFixed32, "score");
        score = as_float(field.value);
        break;
      case 3:
        reader.expect(field, kVarint, "type");
        type = static_cast<int64_t>(field.value);
        if (type < 1 || type > 6) reader.fail_at(field.offset, "unknown piece type {}", type);
        break;
      default:
        break;
    }
  }
  vocab.tokens.push_back(std::move(piece));
  vocab.scores.push_back(score);
  // SentencePiece's Type enum uses the same numbers as TokenType.
  vocab.types.push_back(static_cast<TokenType>(type));
}

TrainerSpec read_trainer_spec(MessageReader& reader) {
  TrainerSpec spec;
  Field field;
  while (reader.next(field)) {
    switch (field.number) {
      case 3:
        reader.expect(field, kVarint, "model_type");
        spec.model_type = static_cast<int64_t>(field.value);
        break;
      case 35:
        reader.expect(field, kVarint, "byte_fallback");
        spec.byte_fallback = field.value != 0;
        break;
      case 40:
        reader.expect(field, kVarint, "unk_id");
        spec.unk_id = as_int32(reader, field, "unk_id");
        break;
      case 41:
        reader.expect(field, kVarint, "bos_id");
        spec.bos_id = as_int32(reader, field, "bos_id");
        break;
      case 42:
        reader.expect(field, kVarint, "eos_id");
        spec.eos_id = as_int32(reader, field, "eos_id");
        break;
      case 43:
        reader.expect(field, kVarint, "pad_id");
        spec.pad_id = as_int32(reader, field, "pad_id");
        break;
      default:
        break;
    }
  }
  return spec;
}

NormalizerSpec read_normalizer_spec(MessageReader& reader) {
  NormalizerSpec spec;
  Field field;
  while (reader.next(field)) {
    switch (field.number) {
      case 1:
        reader.expect(field, kLengthDelimited, "normalizer name");
        spec.name.assign(reinterpret_cast<const char*>(field.bytes.data()), field.bytes.size());
        break;
      case 2:
        reader.expect(field, kLengthDelimited, "precompiled_charsmap");
        spec.charsmap_bytes = field.bytes.size();
        break;
      case 3:
        reader.expect(field, kVarint, "add_dummy_prefix");
        spec.add_dummy_prefix = field.value != 0;
        break;
      case 4:
        reader.expect(field, kVarint, "remove_extra_whitespaces");
        spec.remove_extra_whitespaces = field.value != 0;
        break;
      case 5:
        reader.expect(field, kVarint, "escape_whitespaces");
        spec.escape_whitespaces = field.value != 0;
        break;
      default:
        break;
    }
  }
  return spec;
}

const char* model_type_name(int64_t type) {
  switch (type) {
    case 1:
      return "unigram";
    case 2:
      return "BPE";
    case 3:
      return "word";
    case 4:
      return "char";
    default:
      return "unknown-type";
  }
}

}  // namespace

Vocabulary parse_sentencepiece_model(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.empty()) fail_file(name, "empty file, not a SentencePiece model");
  Vocabulary vocab;
  vocab.kind = TokenizerKind::kSentencePiece;
  // Absent messages keep proto2's defaults, as SentencePiece itself would read them.
  TrainerSpec trainer;
  NormalizerSpec normalizer;

  MessageReader top(bytes, 0, name, "ModelProto");
  Field field;
  while (top.next(field)) {
    switch (field.number) {
      case 1: {
        top.expect(field, kLengthDelimited, "pieces");
        MessageReader reader(field.bytes, top.child_base(field), name,
                             fmt::format("piece {}", vocab.tokens.size()));
        read_piece(reader, vocab);
        break;
      }
      case 2: {
        top.expect(field, kLengthDelimited, "trainer_spec");
        MessageReader reader(field.bytes, top.child_base(field), name, "trainer_spec");
        trainer = read_trainer_spec(reader);
        break;
      }
      case 3: {
        top.expect(field, kLengthDelimited, "normalizer_spec");
        MessageReader reader(field.bytes, top.child_base(field), name, "normalizer_spec");
        normalizer = read_normalizer_spec(reader);
        break;
      }
      default:
        break;
    }
    if (vocab.tokens.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max() - 1)) {
      fail_file(name, "malformed SentencePiece model: too many pieces");
    }
  }

  if (trainer.model_type == 1) fail_file(name, "unigram SentencePiece models are not supported");
  if (trainer.model_type != 2) {
    fail_file(name, "{} SentencePiece models (model_type {}) are not supported, only BPE",
              model_type_name(trainer.model_type), trainer.model_type);
  }
  if (vocab.tokens.empty()) fail_file(name, "SentencePiece model has an empty vocabulary");
  // A non-empty charsmap means a Unicode normalization (NFKC...) that etch does not apply:
  // refusing is better than silently producing ids the model was not trained on.
  if (normalizer.charsmap_bytes != 0) {
    fail_file(name, "SentencePiece normalizer '{}' is not supported (only identity)",
              normalizer.name);
  }
  if (!normalizer.escape_whitespaces) {
    fail_file(name, "SentencePiece models with escape_whitespaces=false are not supported");
  }

  const int64_t size = static_cast<int64_t>(vocab.tokens.size());
  auto check_id = [&](int64_t id, const char* what) -> int32_t {
    if (id < -1 || id >= size) {
      fail_file(name, "SentencePiece model: {} {} out of range for a vocabulary of {}", what, id,
                size);
    }
    return static_cast<int32_t>(id);
  };
  vocab.unk_id = check_id(trainer.unk_id, "unk_id");
  vocab.bos_id = check_id(trainer.bos_id, "bos_id");
  vocab.eos_id = check_id(trainer.eos_id, "eos_id");
  vocab.pad_id = check_id(trainer.pad_id, "pad_id");
  vocab.add_bos = vocab.bos_id >= 0;
  vocab.add_eos = false;
  vocab.add_space_prefix = normalizer.add_dummy_prefix;
  vocab.remove_extra_whitespaces = normalizer.remove_extra_whitespaces;
  return vocab;
}

Vocabulary load_sentencepiece_model(const std::string& path) {
  const MappedFile file(path);
  return parse_sentencepiece_model(file.bytes(), path);
}

}  // namespace etch::tokenize
