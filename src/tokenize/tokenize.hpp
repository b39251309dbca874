// etch tokenize: text <-> token ids for the vocabularies import reads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
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

// Reads a Hugging Face tokenizer.json: byte-level BPE, or SentencePiece BPE in its Metaspace /
// byte_fallback form. Throws Error naming the file on
// malformed input or on a component etch does not implement.
Vocabulary load_tokenizer_json(const std::string& path);
// The same from text already in memory; `name` is used in error messages.
Vocabulary parse_tokenizer_json(std::string_view text, const std::string& name);

// The split steps of a pre-tokenizer named as GGUF's tokenizer.ggml.pre names it (llama-bpe,
// gpt-2, qwen2, falcon, ...); nullopt for a name etch does not know.
std::optional<std::vector<SplitStep>> named_pre_tokenizer(std::string_view name);
// The names named_pre_tokenizer knows, comma-separated, for error messages.
std::string known_pre_tokenizers();

// Sets vocab.eog_ids: EOS, plus every control (or added) token whose text marks the end of a
// turn in a known chat format (<|eot_id|>, <|eom_id|>, <|im_end|>, <|end|>, <end_of_turn>,
// <|endoftext|>, </s>). Import calls it once the vocabulary is complete.
void fill_end_of_generation(Vocabulary& vocab);

class Tokenizer {
 public:
  explicit Tokenizer(Vocabulary vocab);

  // Text to ids (SentencePiece BPE with byte fallback, or byte-level BPE); a BOS id is
  // prepended when add_bos and the vocabulary has one. Any bytes are accepted: invalid UTF-8
  // becomes byte tokens. With parse_special, control tokens written in the text (such as
  // "<|eot_id|>") become their ids; without it they are plain text. Added (user-defined)
  // tokens of a byte-level vocabulary are always matched whole, as Hugging Face does.
  std::vector<int32_t> encode(std::string_view text, bool add_bos,
                              bool parse_special = false) const;

  // The raw bytes a token stands for when decoded (U+2581 -> space, <0xNN> -> the byte,
  // control tokens -> nothing). Bytes of one character may span several tokens, so a
  // streaming caller must buffer incomplete UTF-8. Throws Error for an id out of range.
  std::string token_bytes(int32_t id) const;

  // Ids to text: the concatenated token bytes. When the vocabulary adds a dummy prefix, the
  // one space that prefix put at the start of the first piece (control tokens such as BOS
  // skipped) is dropped again, as SentencePiece does, so decode(encode(s)) == s. Unknown
  // tokens decode as SentencePiece's " \u2047 ". Throws Error for an id out of range.
  // With special, control tokens are written as their text ("<|eot_id|>"), as Hugging Face
  // decodes without skip_special_tokens.
  std::string decode(std::span<const int32_t> ids, bool special = false) const;

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
