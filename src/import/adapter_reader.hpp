// What the two adapter readers (PEFT in hf_model.cpp, GGUF LoRA in adapter.cpp) hand to
// load_adapter, which validates it against the base model and assembles the Adapter.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "import/import.hpp"

namespace etch::import::detail {

struct StoredAdapter {
  std::string source;  // the file tensors are read from, for messages
  std::string format;  // "peft" or "gguf"
  double alpha = 0;
  std::optional<int64_t> rank;   // the rank the config declares (PEFT), checked on every matrix
  bool rank_stabilized = false;  // rsLoRA: scale alpha / sqrt(rank)
  RopeLayout layout = RopeLayout::kHalfSplit;  // the q and k rows of B
  // Tensor name without its format's A/B suffix (the base weight's name in the format's own
  // spelling), with the A or B tensor.
  struct Named {
    std::string target;
    bool is_b = false;
    Tensor tensor;
  };
  std::vector<Named> tensors;
  std::vector<SharedMappedFile> files;
};

// A PEFT adapter: a folder with adapter_config.json and adapter_model.safetensors, or the
// safetensors file itself (its config beside it). Targets are Hugging Face weight names.
StoredAdapter read_peft_adapter(const std::string& path);

}  // namespace etch::import::detail
