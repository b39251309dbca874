// libFuzzer target for the LoRA adapter readers (import::load_adapter), both forms, against the
// tests' tiny model: any input must give an adapter that fits the base or throw etch::Error
// naming the file, never crash, hang or allocate without bound. The readers take paths, so the
// input is written to files first. An input that starts with "GGUF" is a GGUF LoRA file; any
// other is a PEFT folder: adapter_config.json up to the first NUL byte, then
// adapter_model.safetensors.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "compile/compile.hpp"
#include "core/error.hpp"
#include "import/import.hpp"
#include "tiny_model.hpp"

namespace {

// The files the readers are given, in a folder removed when the fuzzer exits.
struct Folder {
  std::filesystem::path path;
  Folder() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "etch-fuzz-adapter-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path = pattern;
  }
  ~Folder() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

const std::filesystem::path& folder() {
  static const Folder held;
  return held.path;
}

void write(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const etch::import::ModelConfig& base = etch::testing::tiny_model(false).model.config;
  std::string path;
  if (input.starts_with("GGUF")) {
    path = (folder() / "lora.gguf").string();
    write(path, input);
  } else {
    const size_t split = std::min(input.find('\0'), input.size());
    write(folder() / "adapter_config.json", input.substr(0, split));
    write(folder() / "adapter_model.safetensors", input.substr(std::min(split + 1, input.size())));
    path = folder().string();
  }
  try {
    const etch::import::Adapter adapter = etch::import::load_adapter(path, base);
    // What an accepted adapter is used for: its int8 SRAM form.
    (void)etch::compile::quantize_adapter(adapter, 1.0f);
  } catch (const etch::Error& e) {
    if (std::string_view(e.what()).find(path) == std::string_view::npos) std::abort();
  }
  return 0;
}
