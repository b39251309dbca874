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

  // Text to ids (SentencePiece BPE with byte fallback); a BOS id is prepended when add_bos
  // and the vocabulary has one. Any bytes are accepted: invalid UTF-8 becomes byte tokens.
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const;

  // The raw bytes a token stands for when decoded (U+2581 -> space, <0xNN> -> the byte,
  // control tokens -> nothing). Bytes of one character may span several tokens, so a
  // streaming caller must buffer incomplete UTF-8. Throws Error for an id out of range.
  std::string token_bytes(int32_t id) const;

  // Ids to text: the concatenated token bytes. When the vocabulary adds a dummy prefix, the
  // one space that prefix put at the start of the first piece (control tokens such as BOS
  // skipped) is dropped again, as SentencePiece does, so decode(encode(s)) == s. Unknown
  // tokens decode as SentencePiece's " \u2047 ". Throws Error for an id out of range.
  std::string decode(std::span<const int32_t> ids) const;

  // The piece as stored in the vocabulary (for --pieces). Throws Error for an id out of range.
  const std::string& piece(int32_t id) const;

  const Vocabulary& vocab() const { return vocab_; }

 private:
  Vocabulary vocab_;
  // Implementation-private lookup tables (piece -> id, byte -> id) live behind this pointer.
  struct Index;
  std::shared_ptr<const Index> index_;
};

}  // namespace etch::tokenize
