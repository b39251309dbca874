// Writes valid adapters for the tests' tiny model into the folder given, in fuzz_adapter's input
// form, as seeds: PEFT (config, a NUL byte, safetensors) and GGUF LoRA, small enough for the
// fuzzers' -max_len. scripts/test.sh runs it before fuzzing.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <list>
#include <string>
#include <vector>

#include "import/gguf_writer.hpp"
#include "import/import.hpp"
#include "import/safetensors.hpp"
#include "tiny_model.hpp"

namespace {

using etch::import::Role;

struct Shape {
  int64_t rows, cols;
};

Shape shape_of(Role role, const etch::import::ModelConfig& c) {
  const int64_t q = c.heads * c.head_dim, kv = c.kv_heads * c.head_dim;
  switch (role) {
    case Role::kAttnQ:
      return {q, c.hidden_size};
    case Role::kAttnK:
    case Role::kAttnV:
      return {kv, c.hidden_size};
    case Role::kAttnOutput:
      return {c.hidden_size, q};
    case Role::kFfnGate:
    case Role::kFfnUp:
      return {c.ffn_size, c.hidden_size};
    default:
      return {c.hidden_size, c.ffn_size};
  }
}

std::vector<float> values(int64_t count, float step) {
  std::vector<float> v(static_cast<size_t>(count));
  for (size_t i = 0; i < v.size(); ++i) v[i] = step * static_cast<float>(i % 7) - 3 * step;
  return v;
}

void write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// PEFT: rank r on `roles` of every layer, with `config` as adapter_config.json.
std::string peft(const etch::import::ModelConfig& c, int64_t rank, const std::vector<Role>& roles,
                 const std::string& config) {
  namespace st = etch::import::safetensors;
  std::list<std::vector<float>> storage;
  std::vector<st::TensorData> tensors;
  auto add = [&](const std::string& name, int64_t rows, int64_t cols) {
    const std::vector<float>& v = storage.emplace_back(values(rows * cols, 0.01f));
    tensors.push_back(
        {name, "F32", {rows, cols}, {reinterpret_cast<const uint8_t*>(v.data()), v.size() * 4}});
  };
  for (int64_t l = 0; l < c.layers; ++l)
    for (Role role : roles) {
      std::string name = "base_model.model." + etch::import::huggingface_name(role, l);
      name.resize(name.size() - std::strlen("weight"));
      const Shape s = shape_of(role, c);
      add(name + "lora_A.weight", rank, s.cols);
      add(name + "lora_B.weight", s.rows, rank);
    }
  return config + std::string(1, '\0') + st::serialize(tensors);
}

std::string gguf(const etch::import::ModelConfig& c, int64_t rank, const std::vector<Role>& roles) {
  etch::testing::GgufWriter w;
  w.string("general.architecture", c.architecture);
  w.string("general.type", "adapter");
  w.string("adapter.type", "lora");
  w.f32("adapter.lora.alpha", 2.0f * static_cast<float>(rank));
  for (int64_t l = 0; l < c.layers; ++l)
    for (Role role : roles) {
      std::string name = etch::import::gguf_name(role, l);
      const Shape s = shape_of(role, c);
      // ggml order: innermost (column) first.
      w.tensor_f32(name + ".lora_a", {static_cast<uint64_t>(s.cols), static_cast<uint64_t>(rank)},
                   values(rank * s.cols, 0.02f));
      w.tensor_f32(name + ".lora_b", {static_cast<uint64_t>(rank), static_cast<uint64_t>(s.rows)},
                   values(s.rows * rank, 0.02f));
    }
  const std::vector<uint8_t> bytes = w.bytes();
  return {bytes.begin(), bytes.end()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FOLDER\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out(argv[1]);
  const etch::import::ModelConfig& c = etch::testing::tiny_model(false).model.config;
  const std::vector<Role> all(etch::import::kLayerMatrices.begin(),
                              etch::import::kLayerMatrices.end());
  const std::vector<Role> attention = {Role::kAttnQ, Role::kAttnV};
  write(out / "peft-r2-all", peft(c, 2, all, R"({"peft_type": "LORA", "r": 2, "lora_alpha": 4})"));
  write(out / "peft-r1-rslora",
        peft(c, 1, attention,
             R"({"peft_type": "LORA", "r": 1, "lora_alpha": 8, "use_rslora": true})"));
  write(out / "gguf-r2-all", gguf(c, 2, all));
  write(out / "gguf-r1-attention", gguf(c, 1, attention));
  return 0;
}
