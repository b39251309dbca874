// libFuzzer target for the GGUF reader and the Llama model/vocabulary built from it: any input
// must either parse or throw etch::Error, never crash, hang or allocate without bound. Tensors
// that parse are dequantized in full, so any byte range the reader accepts is really inside
// the input.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/error.hpp"
#include "import/gguf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace etch::import;
  gguf::File file;
  try {
    file = gguf::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
  } catch (const etch::Error&) {
    return 0;
  }
  for (const auto& [key, value] : file.metadata) (void)value.render();
  std::vector<float> out;
  for (const gguf::TensorInfo& info : file.tensors) {
    const Tensor t = info.to_tensor();
    out.resize(static_cast<size_t>(t.elements()));
    dequantize(t.type, t.data, out.data(), t.elements());
  }
  try {
    (void)gguf::to_vocabulary(file);
  } catch (const etch::Error&) {
  }
  try {
    const Model model = gguf::to_model(file);
    std::vector<float> row(static_cast<size_t>(model.config.hidden_size));
    model.token_embedding.dequantize_row(model.config.vocab_size - 1, row.data());
  } catch (const etch::Error&) {
  }
  return 0;
}
