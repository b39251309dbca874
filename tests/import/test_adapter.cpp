// LoRA adapters: both forms read and checked against the base model; every malformed adapter
// is one line naming the file and the problem.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <list>

#include "core/error.hpp"
#include "import/import.hpp"
#include "import/safetensors.hpp"
#include "test_support.hpp"

namespace etch::import {
namespace {

namespace fs = std::filesystem;

fs::path lora_dir() {
  return testing::model_dir("kjv-8m") / "lora-r8";
}

ModelConfig kjv_config() {
  return load_model((testing::model_dir("kjv-8m") / "hf").string()).config;
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    for (const std::string& p : parts) EXPECT_NE(m.find(p), std::string::npos) << m;
    return;
  }
  ADD_FAILURE() << "no error";
}

TEST(Adapter, BothFormsHoldTheSameMatrices) {
  const ModelConfig hf = kjv_config();
  const Adapter peft = load_adapter(lora_dir().string(), hf);
  EXPECT_EQ(peft.name, "lora-r8");
  EXPECT_EQ(peft.format, "peft");
  EXPECT_EQ(peft.alpha, 16.0);
  ASSERT_EQ(peft.matrices.size(), 8u * 7u);
  EXPECT_EQ(peft.parameters(), 8 * 8 * (2 * (256 + 256) + 2 * (64 + 256) + 3 * (768 + 256)));
  // Read for the same (Hugging Face) layout, the GGUF form's q and k rows are permuted back:
  // every matrix equals the PEFT one exactly.
  const Adapter gguf = load_adapter((lora_dir() / "kjv-8m-lora-r8.gguf").string(), hf);
  EXPECT_EQ(gguf.format, "gguf");
  ASSERT_EQ(gguf.matrices.size(), peft.matrices.size());
  for (size_t i = 0; i < peft.matrices.size(); ++i) {
    const AdapterMatrix &a = peft.matrices[i], &b = gguf.matrices[i];
    EXPECT_EQ(a.role, b.role);
    EXPECT_EQ(a.layer, b.layer);
    EXPECT_EQ(a.scale, 2.0f);
    EXPECT_EQ(b.scale, 2.0f);
    EXPECT_EQ(a.a, b.a) << huggingface_name(a.role, a.layer);
    EXPECT_EQ(a.b, b.b) << huggingface_name(a.role, a.layer);
  }
}

class BadAdapter : public ::testing::Test {
 protected:
  // A PEFT folder with the fixture's config (edited by `config_edit`) and `tensors`.
  std::string peft(const std::string& config, const std::vector<safetensors::TensorData>& tensors) {
    write_file(dir_ / "adapter_config.json", config);
    write_file(dir_ / "adapter_model.safetensors", safetensors::serialize(tensors));
    return dir_.path().string();
  }
  safetensors::TensorData tensor(const std::string& name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    storage_.emplace_back(static_cast<size_t>(n) * 4, uint8_t{0});
    return {name, "F32", std::move(shape), storage_.back()};
  }
  const std::string config_ = R"({"peft_type": "LORA", "r": 8, "lora_alpha": 16})";
  testing::TempDir dir_{"adapter"};
  std::list<std::vector<uint8_t>> storage_;
};

TEST_F(BadAdapter, ClearErrors) {
  const ModelConfig base = kjv_config();
  const std::string q = "base_model.model.model.layers.0.self_attn.q_proj.";
  expect_error(
      [&] {
        load_adapter(peft(config_, {tensor(q + "lora_A.weight", {8, 256})}), base);
      },
      {"adapter_model.safetensors", "model.layers.0.self_attn.q_proj.weight", "no B matrix"});
  expect_error(
      [&] {
        load_adapter(peft(config_, {tensor(q + "lora_A.weight", {8, 256}),
                                    tensor(q + "lora_B.weight", {64, 8})}),
                     base);
      },
      {"adapter_model.safetensors", "B is [64, 8]", "B [256, 8]"});
  expect_error(
      [&] {
        load_adapter(peft(config_, {tensor(q + "lora_A.weight", {4, 256}),
                                    tensor(q + "lora_B.weight", {256, 4})}),
                     base);
      },
      {"rank 4", "r = 8"});
  expect_error(
      [&] {
        load_adapter(peft(config_, {tensor("base_model.model.lm_head.lora_A.weight", {8, 256}),
                                    tensor("base_model.model.lm_head.lora_B.weight", {4096, 8})}),
                     base);
      },
      {"lm_head.weight", "not one of the seven projection matrices"});
  expect_error(
      [&] {
        load_adapter(peft(config_, {tensor("base_model.model.model.layers.9.mlp.up_proj.lora_A."
                                           "weight",
                                           {8, 256})}),
                     base);
      },
      {"model.layers.9.mlp.up_proj.weight", "8 layers"});
  expect_error([&] { load_adapter(peft(R"({"peft_type": "IA3", "r": 8})", {}), base); },
               {"adapter_config.json", "peft_type 'IA3'"});
  expect_error(
      [&] { load_adapter(peft(R"({"peft_type": "LORA", "r": 8, "use_dora": true})", {}), base); },
      {"adapter_config.json", "DoRA"});
  expect_error([&] { load_adapter(peft(config_, {}), base); }, {"holds no LoRA matrices"});
  expect_error(
      [&] { load_adapter((testing::model_dir("kjv-8m") / "kjv-8m-bf16.gguf").string(), base); },
      {"kjv-8m-bf16.gguf", "not an adapter"});
  expect_error([&] { load_adapter((dir_ / "missing").string(), base); }, {"missing", "no such"});
  // An adapter for another model's shapes.
  const ModelConfig other =
      load_model((testing::model_dir("rand-llama-bias") / "hf").string()).config;
  expect_error([&] { load_adapter(lora_dir().string(), other); },
               {"adapter_model.safetensors", "base model's 3 layers"});
}

}  // namespace
}  // namespace etch::import
