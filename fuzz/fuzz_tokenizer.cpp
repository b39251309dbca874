// libFuzzer target for encoding and decoding arbitrary bytes with the fixtures' SentencePiece
// model (loaded once). With byte fallback every byte string must survive the round trip,
// except that a literal U+2581 in the text decodes as a space, as in SentencePiece.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "tokenize/tokenize.hpp"

namespace {

std::filesystem::path fixtures() {
  if (const char* env = std::getenv("ETCH_FIXTURES")) return env;
  // The source tree sits beside ../shared, as the tests assume.
  return std::filesystem::path(__FILE__).parent_path().parent_path() / ".." / "shared" / "fixtures";
}

const etch::tokenize::Tokenizer& tokenizer(bool variant) {
  static const etch::tokenize::Vocabulary vocab = etch::tokenize::load_sentencepiece_model(
      (fixtures() / "tokenizers" / "tok4096.model").string());
  static const etch::tokenize::Tokenizer plain(vocab);
  // The normalizer options the fixture does not use, for coverage of their code paths.
  static const etch::tokenize::Tokenizer other = [] {
    etch::tokenize::Vocabulary v = vocab;
    v.add_space_prefix = false;
    v.remove_extra_whitespaces = true;
    return etch::tokenize::Tokenizer(std::move(v));
  }();
  return variant ? other : plain;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto& tok = tokenizer(false);
  const auto ids = tok.encode(text, true);
  if (ids.empty() || ids[0] != tok.vocab().bos_id) __builtin_trap();
  for (const int32_t id : ids) {
    if (id < 0 || id >= tok.vocab().size()) __builtin_trap();
    if (id != tok.vocab().bos_id && tok.vocab().types[id] == etch::tokenize::TokenType::kControl) {
      __builtin_trap();  // control tokens never come from text
    }
  }
  if (text.find("\xE2\x96\x81") == std::string_view::npos) {
    const std::string back = tok.decode(ids);
    if (back != text) {
      std::fprintf(stderr, "round trip failed: %zu bytes in, %zu bytes out\n", text.size(),
                   back.size());
      __builtin_trap();
    }
  }

  const auto& other = tokenizer(true);
  (void)other.decode(other.encode(text, false));

  // Arbitrary id sequences decode or throw etch::Error.
  std::vector<int32_t> arbitrary;
  for (size_t i = 0; i + 1 < size; i += 2) arbitrary.push_back((data[i] << 8 | data[i + 1]) - 4);
  try {
    (void)tok.decode(arbitrary);
  } catch (const etch::Error&) {
  }
  return 0;
}
