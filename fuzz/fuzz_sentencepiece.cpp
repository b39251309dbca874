// libFuzzer target for the tokenizer.model reader: any input must give a vocabulary or throw
// etch::Error. An accepted vocabulary, however odd, must also tokenize without crashing.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.hpp"
#include "tokenize/tokenize.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    etch::tokenize::Vocabulary vocab = etch::tokenize::parse_sentencepiece_model(
        std::span<const uint8_t>(data, size), "fuzz.model");
    const etch::tokenize::Tokenizer tokenizer(std::move(vocab));
    const auto ids = tokenizer.encode("In the  beginning \xE2\x96\x81 \xC3\xA9\xFF <s> 123", true);
    for (const int32_t id : ids) {
      if (id < 0 || id >= tokenizer.vocab().size()) __builtin_trap();
    }
    (void)tokenizer.decode(ids);
  } catch (const etch::Error&) {
  }
  return 0;
}
