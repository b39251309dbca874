// etch tokenize: text <-> token ids for the vocabularies import reads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenize/vocabulary.hpp"

namespace etch::tokenize {

// Reads a SentencePiece ModelProto (tokenizer.model). Throws Error naming the file on
// malformed input.
Vocabulary load_sentencepiece_model(const std::string& path);
// The same from bytes already in memory; `name` is used in error messages.
Vocabulary parse_sentencepiece_model(std::span<const uint8_t> bytes, const std::string& name);

class Tokenizer {
 public:
  explicit Tokenizer(Vocabulary vocab);

  // Text to ids; a BOS id is prepended when add_bos and the vocabulary has one.
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const;

  // The raw bytes a token stands for when decoded (U+2581 -> space, <0xNN> -> the byte,
  // control tokens -> nothing). Bytes of one character may span several tokens.
  std::string token_bytes(int32_t id) const;

  // Ids to text: the concatenated token bytes, minus the leading space the SentencePiece
  // dummy prefix adds when the first id is not BOS-like... see the implementation.
  std::string decode(std::span<const int32_t> ids) const;

  // The piece as stored in the vocabulary (for --pieces).
  const std::string& piece(int32_t id) const;

  const Vocabulary& vocab() const { return vocab_; }

 private:
  Vocabulary vocab_;
  // Implementation-private lookup tables (piece -> id, byte -> id) live behind this pointer.
  struct Index;
  std::shared_ptr<const Index> index_;
};

}  // namespace etch::tokenize
