#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace etch::tokenize {

enum class TokenizerKind {
  kSentencePiece,  // SentencePiece BPE with byte fallback (Llama 1/2, Mistral v1, TinyLlama)
  kByteLevelBpe,   // GPT-2 style byte-level BPE (Llama 3, Qwen2): the tokenizer issue
};

// Token types as GGUF's tokenizer.ggml.token_type stores them (llama.cpp's numbering,
// which is SentencePiece's ModelProto.SentencePiece.Type plus one).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// One step of a byte-level BPE pre-tokenizer (Hugging Face's Split): every piece the earlier
// steps left is cut at the matches of `pattern` (PCRE2 syntax, UTF and Unicode properties),
// and the matches and the text between them become pieces as `behavior` says.
struct SplitStep {
  enum class Behavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };
  std::string pattern;
  Behavior behavior = Behavior::kIsolated;
  bool invert = false;  // the text between matches is what is split off
};

// Everything a tokenizer needs, whichever file it came from (a GGUF's tokenizer.ggml.* keys,
// a tokenizer.model, later a tokenizer.json). Plain data: import fills it, Tokenizer uses it.
struct Vocabulary {
  TokenizerKind kind = TokenizerKind::kSentencePiece;
  std::vector<std::string> tokens;  // piece text, SentencePiece's U+2581 for spaces
  std::vector<float> scores;        // merge priority for SentencePiece BPE (higher merges first)
  std::vector<TokenType> types;
  std::vector<std::string> merges;  // byte-level BPE only: "left right", by rank
  std::string pre_tokenizer;        // byte-level BPE only: tokenizer.ggml.pre, or "tokenizer.json"
  std::vector<SplitStep> pre_splits;  // byte-level BPE only: the pre-tokenizer's steps, in order
  bool ignore_merges = false;  // byte-level BPE: a piece that is a token is kept whole (Llama 3)
  std::string chat_template;   // the model's Jinja chat template as stored, empty if none
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  int32_t pad_id = -1;
  // Every id that ends generation: EOS and the end-of-turn tokens (<|eot_id|>, <|im_end|>,
  // <|end|>, <end_of_turn>, ...); fill_end_of_generation computes it from the pieces.
  std::vector<int32_t> eog_ids;
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;  // SentencePiece's add_dummy_prefix
  bool remove_extra_whitespaces = false;

  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
  bool ends_generation(int32_t id) const {
    return id == eos_id || std::find(eog_ids.begin(), eog_ids.end(), id) != eog_ids.end();
  }
};

}  // namespace etch::tokenize
