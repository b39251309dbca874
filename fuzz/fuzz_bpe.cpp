// libFuzzer target for byte-level BPE encoding and decoding of arbitrary bytes, through the
// fixtures' tokenizer.json (Llama 3 split, special tokens) and llama.cpp's GGUF vocabularies
// with multi-step pre-tokenizers (falcon, deepseek-llm). Nothing may crash. The tokenizer.json
// has all 256 byte tokens, so every byte string must survive its round trip; the GGUF
// vocabularies lack some bytes (0xF5 and up, some control characters), so for them only text
// made of bytes they can spell must.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "import/import.hpp"
#include "tokenize/tokenize.hpp"

namespace {

std::filesystem::path fixtures() {
  if (const char* env = std::getenv("ETCH_FIXTURES")) return env;
  // The source tree sits beside ../shared, as the tests assume.
  return std::filesystem::path(__FILE__).parent_path().parent_path() / ".." / "shared" / "fixtures";
}

const std::vector<etch::tokenize::Tokenizer>& tokenizers() {
  static const std::vector<etch::tokenize::Tokenizer> all = [] {
    const auto dir = fixtures() / "tokenizers";
    std::vector<etch::tokenize::Tokenizer> t;
    t.emplace_back(
        etch::tokenize::load_tokenizer_json((dir / "bpe4096-llama3.tokenizer.json").string()));
    t.emplace_back(etch::import::load_gguf_vocabulary((dir / "ggml-vocab-falcon.gguf").string()));
    t.emplace_back(
        etch::import::load_gguf_vocabulary((dir / "ggml-vocab-deepseek-llm.gguf").string()));
    return t;
  }();
  return all;
}

// Which bytes a vocabulary can spell at all (each alone round-trips).
const std::vector<std::array<bool, 256>>& spellable() {
  static const std::vector<std::array<bool, 256>> all = [] {
    std::vector<std::array<bool, 256>> out;
    for (const auto& tok : tokenizers()) {
      std::array<bool, 256> bytes{};
      for (int b = 0; b < 256; ++b) {
        const std::string one(1, static_cast<char>(b));
        bytes[b] = tok.decode(tok.encode(one, false)) == one;
      }
      out.push_back(bytes);
    }
    return out;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (size_t t = 0; t < tokenizers().size(); ++t) {
    const auto& tok = tokenizers()[t];
    bool complete = true;
    for (const char c : text) complete = complete && spellable()[t][static_cast<unsigned char>(c)];
    const auto ids = tok.encode(text, false);
    for (const int32_t id : ids) {
      if (id < 0 || id >= tok.vocab().size()) __builtin_trap();
      if (tok.vocab().types[id] == etch::tokenize::TokenType::kControl) {
        __builtin_trap();  // control tokens come from text only when specials are parsed
      }
    }
    const std::string back = tok.decode(ids);
    if (complete && back != text) {
      std::fprintf(stderr, "round trip failed: %zu bytes in, %zu bytes out\n", text.size(),
                   back.size());
      __builtin_trap();
    }
    // With specials parsed, writing control tokens back as text restores the input.
    if (complete && tok.decode(tok.encode(text, false, true), true) != text) __builtin_trap();
  }
  return 0;
}
