// Internals of the byte-level BPE tokenizer shared by tokenizer.cpp, bpe.cpp and
// pretokenize.cpp; not part of the module's public interface (tokenize.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenize/vocabulary.hpp"

namespace etch::tokenize {

// A byte range of the text being encoded.
struct Piece {
  uint32_t begin;
  uint32_t end;
};

// The compiled split steps of one vocabulary. Thread-safe: each call brings its own scratch.
class PreTokenizer {
 public:
  explicit PreTokenizer(const std::vector<SplitStep>& steps);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Cuts text[range] into pieces, appended to `out` in text order.
  void split(std::string_view text, Piece range, std::vector<Piece>& out) const;

 private:
  struct Compiled;
  std::vector<std::unique_ptr<Compiled>> steps_;
};

// Byte-level BPE merges over token ids, built once per vocabulary.
class BpeModel {
 public:
  // `surfaces` are the raw bytes of every token (Tokenizer's token_bytes).
  BpeModel(const Vocabulary& vocab, const std::vector<std::string>& surfaces);
  ~BpeModel();
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // Encodes raw text (no special tokens in it) and appends the ids to `out`.
  void encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  struct Data;
  std::unique_ptr<Data> data_;
};

}  // namespace etch::tokenize
