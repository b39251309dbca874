// libFuzzer target for the tokenizer.json reader: arbitrary bytes either load (and then build
// a tokenizer that encodes and decodes a fixed text) or throw etch::Error; never crash, hang
// or allocate without bound.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.hpp"
#include "tokenize/tokenize.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const etch::tokenize::Tokenizer tok(etch::tokenize::parse_tokenizer_json(text, "fuzz.json"));
    (void)tok.decode(tok.encode("Hello, world! 123 \xC3\xA9\xFF", true, true));
  } catch (const etch::Error&) {
  }
  return 0;
}
