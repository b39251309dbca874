#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/error.hpp"
#include "import/import.hpp"
#include "import/safetensors.hpp"
#include "test_support.hpp"

namespace etch::import {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path hf(const std::string& model, const std::string& view = "hf") {
  return testing::model_dir(model) / view;
}

using testing::expect_error;

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void expect_same_config(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.layers, b.layers);
  EXPECT_EQ(a.heads, b.heads);
  EXPECT_EQ(a.kv_heads, b.kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.ffn_size, b.ffn_size);
  EXPECT_EQ(a.context_length, b.context_length);
  EXPECT_EQ(a.rms_eps, b.rms_eps);
  EXPECT_EQ(a.rope.theta, b.rope.theta);
  EXPECT_EQ(a.rope.layout, b.rope.layout);
  EXPECT_EQ(a.rope.scaling, b.rope.scaling);
  EXPECT_EQ(a.rope.factor, b.rope.factor);
  EXPECT_EQ(a.rope.low_freq_factor, b.rope.low_freq_factor);
  EXPECT_EQ(a.rope.high_freq_factor, b.rope.high_freq_factor);
  EXPECT_EQ(a.rope.original_context, b.rope.original_context);
  EXPECT_EQ(a.rope.dims, b.rope.dims);
  EXPECT_EQ(a.rope.freq_factors, b.rope.freq_factors);
  EXPECT_EQ(a.tied_embeddings, b.tied_embeddings);
  EXPECT_EQ(a.qkv_bias, b.qkv_bias);
}

void expect_same_tensor(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.shape, b.shape);
  ASSERT_EQ(a.bytes, b.bytes) << a.name;
  EXPECT_EQ(std::memcmp(a.data, b.data, a.bytes), 0) << a.name;
}

void expect_same_weights(const Model& a, const Model& b) {
  expect_same_config(a.config, b.config);
  expect_same_tensor(a.token_embedding, b.token_embedding);
  expect_same_tensor(a.output_norm, b.output_norm);
  expect_same_tensor(a.output, b.output);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const LayerWeights &x = a.layers[i], &y = b.layers[i];
    for (auto m : {&LayerWeights::attn_norm, &LayerWeights::wq, &LayerWeights::wk,
                   &LayerWeights::wv, &LayerWeights::wo, &LayerWeights::ffn_norm,
                   &LayerWeights::w_gate, &LayerWeights::w_up, &LayerWeights::w_down})
      expect_same_tensor(x.*m, y.*m);
  }
  EXPECT_EQ(a.vocab.tokens, b.vocab.tokens);
  EXPECT_EQ(a.vocab.bos_id, b.vocab.bos_id);
  EXPECT_EQ(a.vocab.eos_id, b.vocab.eos_id);
}

std::string metadata(const Model& m, const std::string& key) {
  for (const auto& [k, v] : m.metadata)
    if (k == key) return v;
  return "<absent>";
}

// A scratch model folder: links to a fixture's files, any of which a test may replace.
class HuggingFaceFolder : public ::testing::Test {
 protected:
  void link_fixture(const fs::path& source, const std::vector<std::string>& skip = {}) {
    for (const auto& entry : fs::directory_iterator(source)) {
      const std::string name = entry.path().filename().string();
      if (std::find(skip.begin(), skip.end(), name) == skip.end())
        fs::create_symlink(fs::absolute(entry.path()), dir_ / name);
    }
  }

  // The fixture's folder with config.json edited by `edit`.
  void with_config(const fs::path& source, const std::function<void(json&)>& edit) {
    link_fixture(source, {"config.json"});
    json config = testing::read_json(source / "config.json");
    edit(config);
    write_file(dir_ / "config.json", config.dump(2));
  }

  std::string config_path() const { return (dir_ / "config.json").string(); }
  Model load() const { return load_huggingface(dir_.string()); }
  void expect_load_error(std::vector<std::string> parts) const {
    expect_error([&] { load(); }, std::move(parts));
  }

  const testing::TempDir temp_{"hf"};
  const fs::path dir_ = temp_.path();
};

TEST(HuggingFace, LoadsKjv) {
  const Model m = load_huggingface(hf("kjv-8m").string());
  EXPECT_EQ(m.format, "huggingface");
  EXPECT_EQ(m.path, hf("kjv-8m").string());
  const ModelConfig& c = m.config;
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.vocab_size, 4096);
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_EQ(c.layers, 8);
  EXPECT_EQ(c.heads, 8);
  EXPECT_EQ(c.kv_heads, 2);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.ffn_size, 768);
  EXPECT_EQ(c.context_length, 1024);
  EXPECT_DOUBLE_EQ(c.rms_eps, 1e-5);
  EXPECT_EQ(c.rope.theta, 10000.0);
  EXPECT_EQ(c.rope.layout, RopeLayout::kHalfSplit);
  EXPECT_EQ(c.rope.scaling, RopeScaling::kNone);
  EXPECT_EQ(c.rope.dims, 32);
  EXPECT_TRUE(c.rope.freq_factors.empty());
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_FALSE(c.qkv_bias);

  EXPECT_EQ(m.tensors.size(), 75u);
  EXPECT_EQ(m.files.size(), 1u);
  EXPECT_EQ(m.token_embedding.name, "model.embed_tokens.weight");
  EXPECT_EQ(m.token_embedding.type, TensorType::kBF16);
  EXPECT_EQ(m.output.name, "lm_head.weight");
  EXPECT_NE(m.output.data, m.token_embedding.data);
  ASSERT_EQ(m.layers.size(), 8u);
  EXPECT_EQ(m.layers[7].w_down.name, "model.layers.7.mlp.down_proj.weight");
  EXPECT_EQ(m.layers[3].wk.shape, (std::vector<int64_t>{64, 256}));
  EXPECT_FALSE(m.layers[0].bq.has_value());

  EXPECT_EQ(m.vocab.size(), 4096);
  EXPECT_EQ(m.vocab.bos_id, 1);
  EXPECT_EQ(m.vocab.eos_id, 2);
  EXPECT_TRUE(m.vocab.add_bos);
  EXPECT_FALSE(m.vocab.add_eos);

  EXPECT_EQ(metadata(m, "model_type"), "llama");
  EXPECT_EQ(metadata(m, "dtype"), "bfloat16");
  EXPECT_EQ(metadata(m, "num_key_value_heads"), "2");
  EXPECT_EQ(metadata(m, "safetensors.format"), "pt");
}

TEST(HuggingFace, LoadsLlama3ScalingFromBothConfigStyles) {
  const Model v5 = load_huggingface(hf("rand-llama3-gqa").string());
  const Model v4 = load_huggingface(hf("rand-llama3-gqa", "hf-v4-config").string());
  for (const Model* m : {&v5, &v4}) {
    const ModelConfig& c = m->config;
    EXPECT_EQ(c.hidden_size, 128);
    EXPECT_EQ(c.layers, 2);
    EXPECT_EQ(c.heads, 4);
    EXPECT_EQ(c.kv_heads, 2);
    EXPECT_EQ(c.head_dim, 32);
    EXPECT_EQ(c.ffn_size, 384);
    EXPECT_EQ(c.context_length, 512);
    EXPECT_EQ(c.rope.theta, 500000.0);
    EXPECT_EQ(c.rope.scaling, RopeScaling::kLlama3);
    EXPECT_EQ(c.rope.factor, 8.0);
    EXPECT_EQ(c.rope.low_freq_factor, 1.0);
    EXPECT_EQ(c.rope.high_freq_factor, 4.0);
    EXPECT_EQ(c.rope.original_context, 64);
    EXPECT_EQ(m->token_embedding.type, TensorType::kF32);
    EXPECT_FALSE(c.tied_embeddings);
  }
  expect_same_weights(v5, v4);
  EXPECT_EQ(metadata(v4, "torch_dtype"), "float32");
  EXPECT_EQ(metadata(v5, "dtype"), "float32");
}

TEST(HuggingFace, TiedEmbeddingsShareTheTensor) {
  const Model m = load_huggingface(hf("rand-tied-mha").string());
  EXPECT_TRUE(m.config.tied_embeddings);
  EXPECT_EQ(m.output.data, m.token_embedding.data);
  EXPECT_EQ(m.output.name, "model.embed_tokens.weight");
  EXPECT_EQ(m.config.heads, 3);
  EXPECT_EQ(m.config.kv_heads, 3);
  EXPECT_EQ(m.config.hidden_size, 96);
  EXPECT_EQ(m.config.layers, 3);
  EXPECT_EQ(m.config.ffn_size, 256);
  EXPECT_DOUBLE_EQ(m.config.rms_eps, 1e-6);
}

TEST(HuggingFace, AttentionBiasLoadsAllFourProjectionBiases) {
  const Model m = load_huggingface(hf("rand-llama-bias").string());
  EXPECT_TRUE(m.config.qkv_bias);
  for (const LayerWeights& l : m.layers) {
    ASSERT_TRUE(l.bq && l.bk && l.bv && l.bo);
    EXPECT_EQ(l.bq->shape, (std::vector<int64_t>{96}));
    EXPECT_EQ(l.bk->shape, (std::vector<int64_t>{32}));
    EXPECT_EQ(l.bo->shape, (std::vector<int64_t>{96}));
  }
  EXPECT_EQ(m.layers[2].bo->name, "model.layers.2.self_attn.o_proj.bias");
}

TEST(HuggingFace, LoadModelDispatchesFolders) {
  EXPECT_EQ(load_model(hf("rand-tied-mha").string()).format, "huggingface");
}

TEST_F(HuggingFaceFolder, ShardedIndexLoadsIdentically) {
  const fs::path source = hf("rand-llama3-gqa");
  link_fixture(source, {"model.safetensors"});
  const safetensors::File whole = safetensors::open((source / "model.safetensors").string());
  std::vector<safetensors::TensorData> shard[2];
  json map = json::object();
  for (size_t i = 0; i < whole.tensors.size(); ++i) {
    const Tensor& t = whole.tensors[i];
    const int s = i < whole.tensors.size() / 2 ? 0 : 1;
    const std::string dtype = whole.header.entries[i].dtype;
    shard[s].push_back({t.name, dtype, t.shape, {t.data, t.bytes}});
    map[t.name] = fmt::format("model-{:05}-of-00002.safetensors", s + 1);
  }
  for (int s = 0; s < 2; ++s)
    write_file(dir_ / fmt::format("model-{:05}-of-00002.safetensors", s + 1),
               safetensors::serialize(shard[s], {{"format", "pt"}}));
  write_file(dir_ / "model.safetensors.index.json",
             json{{"metadata", {{"total_size", 0}}}, {"weight_map", map}}.dump(2));

  const Model sharded = load();
  EXPECT_EQ(sharded.files.size(), 2u);
  EXPECT_EQ(sharded.tensors.size(), whole.tensors.size());
  expect_same_weights(load_huggingface(source.string()), sharded);

  // Now break the index in each way it can be broken.
  const fs::path index = dir_ / "model.safetensors.index.json";
  json bad = map;
  bad["model.norm.weight"] = "model-00003-of-00002.safetensors";
  write_file(index, json{{"weight_map", bad}}.dump());
  expect_load_error({index.string(), "shard 'model-00003-of-00002.safetensors'", "missing"});

  bad = map;
  bad["model.norm.weight"] = "../model.safetensors";
  write_file(index, json{{"weight_map", bad}}.dump());
  expect_load_error({index.string(), "'../model.safetensors'", "not a plain file name"});

  bad = map;
  bad["model.extra.weight"] = "model-00001-of-00002.safetensors";
  write_file(index, json{{"weight_map", bad}}.dump());
  expect_load_error({index.string(), "'model.extra.weight'", "does not hold it"});

  bad = map;
  bad.erase("model.norm.weight");
  write_file(index, json{{"weight_map", bad}}.dump());
  expect_load_error({"model-00002-of-00002.safetensors", "'model.norm.weight'", "does not list"});

  bad = map;
  const std::string moved = whole.tensors.front().name;
  bad[moved] = "model-00002-of-00002.safetensors";
  write_file(index, json{{"weight_map", bad}}.dump());
  expect_load_error({"model-00001-of-00002.safetensors", "'" + moved + "'", "maps to shard"});

  write_file(index, json{{"weight_map", 3}}.dump());
  expect_load_error({index.string(), "weight_map is an integer"});
  write_file(index, json{{"metadata", {}}}.dump());
  expect_load_error({index.string(), "no weight_map"});
  write_file(index, "{\"weight_map\": {");
  expect_load_error({index.string(), "malformed JSON"});
}

TEST_F(HuggingFaceFolder, MissingFolderAndFiles) {
  expect_error([] { load_huggingface("/nonexistent/model"); },
               {"/nonexistent/model", "no such folder"});
  expect_error([] { load_model("/nonexistent/model"); }, {"/nonexistent/model", "no such"});
  expect_load_error({dir_.string(), "no config.json"});
  link_fixture(hf("rand-tied-mha"), {"model.safetensors"});
  expect_load_error({dir_.string(), "no model.safetensors or model.safetensors.index.json"});
  write_file(dir_ / "pytorch_model.bin", "");
  expect_load_error({dir_.string(), "PyTorch .bin", "safetensors"});
}

TEST_F(HuggingFaceFolder, TruncatedWeights) {
  link_fixture(hf("rand-tied-mha"), {"model.safetensors"});
  const std::string bytes = testing::read_text(hf("rand-tied-mha") / "model.safetensors");
  const std::string path = (dir_ / "model.safetensors").string();
  const std::pair<size_t, const char*> cuts[] = {{4, "too short"},
                                                 {100, "past the end of the file"},
                                                 {3000, "past the end of the file"},
                                                 {5000, "past the end of the data"},
                                                 {bytes.size() - 1, "past the end of the data"}};
  for (const auto& [cut, problem] : cuts) {
    write_file(path, bytes.substr(0, cut));
    expect_load_error({path + ": ", problem});
  }
}

TEST_F(HuggingFaceFolder, LyingHeaderInWeights) {
  link_fixture(hf("rand-tied-mha"), {"model.safetensors"});
  std::string bytes = testing::read_text(hf("rand-tied-mha") / "model.safetensors");
  // Same length, different shape: [4096, 96] -> [4096, 95] contradicts the byte range.
  const size_t at = bytes.find("[4096,96]");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 9, "[4096,95]");
  const std::string path = (dir_ / "model.safetensors").string();
  write_file(path, bytes);
  expect_load_error({path, "'model.embed_tokens.weight'", "[4096, 95] of F32 needs"});
}

TEST_F(HuggingFaceFolder, MalformedConfig) {
  link_fixture(hf("rand-tied-mha"), {"config.json"});
  write_file(dir_ / "config.json", "{\"hidden_size\": 96,");
  expect_load_error({config_path(), "malformed JSON"});
  write_file(dir_ / "config.json", "[1]");
  expect_load_error({config_path(), "expected a JSON object"});
  write_file(dir_ / "config.json", "");
  expect_load_error({config_path(), "malformed JSON"});
}

TEST_F(HuggingFaceFolder, NotLlama) {
  with_config(hf("rand-tied-mha"), [](json& c) {
    c["model_type"] = "mistral";
    c["architectures"] = {"MistralForCausalLM"};
  });
  expect_load_error({config_path(), "model_type 'mistral' is not supported"});
}

TEST_F(HuggingFaceFolder, ArchitecturesAloneSuffice) {
  with_config(hf("rand-tied-mha"), [](json& c) { c.erase("model_type"); });
  EXPECT_EQ(load().config.layers, 3);
  write_file(dir_ / "config.json", json{{"architectures", {"Qwen2ForCausalLM"}}}.dump());
  expect_load_error({config_path(), "architecture 'Qwen2ForCausalLM' is not supported"});
}

TEST_F(HuggingFaceFolder, MissingConfigKey) {
  with_config(hf("rand-tied-mha"), [](json& c) { c.erase("hidden_size"); });
  expect_load_error({config_path(), "missing hidden_size"});
}

TEST_F(HuggingFaceFolder, WrongConfigTypes) {
  with_config(hf("rand-tied-mha"), [](json& c) { c["num_hidden_layers"] = "3"; });
  expect_load_error({config_path(), "num_hidden_layers is string, expected an integer"});
  json c = testing::read_json(hf("rand-tied-mha") / "config.json");
  c["tie_word_embeddings"] = 1;
  write_file(dir_ / "config.json", c.dump());
  expect_load_error({config_path(), "tie_word_embeddings is an integer, expected true or false"});
  c = testing::read_json(hf("rand-tied-mha") / "config.json");
  c["rope_parameters"] = "fast";
  write_file(dir_ / "config.json", c.dump());
  expect_load_error({config_path(), "rope_parameters is string"});
  c = testing::read_json(hf("rand-tied-mha") / "config.json");
  c["rms_norm_eps"] = -1;
  write_file(dir_ / "config.json", c.dump());
  expect_load_error({config_path(), "rms_norm_eps is -1"});
}

TEST_F(HuggingFaceFolder, AbsurdDimensions) {
  with_config(hf("rand-tied-mha"), [](json& c) { c["num_hidden_layers"] = 1'000'000'000'000; });
  expect_load_error({config_path(), "num_hidden_layers is 1000000000000"});
  json c = testing::read_json(hf("rand-tied-mha") / "config.json");
  c["vocab_size"] = 0;
  write_file(dir_ / "config.json", c.dump());
  expect_load_error({config_path(), "vocab_size is 0"});
  c = testing::read_json(hf("rand-tied-mha") / "config.json");
  c["num_key_value_heads"] = 2;
  write_file(dir_ / "config.json", c.dump());
  expect_load_error({config_path(), "not a multiple of num_key_value_heads 2"});
}

TEST_F(HuggingFaceFolder, ShapeContradictsConfig) {
  with_config(hf("rand-tied-mha"), [](json& c) { c["intermediate_size"] = 512; });
  expect_load_error({dir_.string(), "'model.layers.0.mlp.gate_proj.weight'", "[256, 96]",
                     "config implies [512, 96]"});
}

TEST_F(HuggingFaceFolder, LayerCountContradictsWeights) {
  with_config(hf("rand-tied-mha"), [](json& c) { c["num_hidden_layers"] = 4; });
  expect_load_error({"model.safetensors", "'model.layers.3.input_layernorm.weight' is missing"});
  write_file(dir_ / "config.json", [] {
    json c = testing::read_json(hf("rand-tied-mha") / "config.json");
    c["num_hidden_layers"] = 2;
    return c.dump();
  }());
  expect_load_error({"model.safetensors", "is for layer 2", "2 layers"});
}

TEST_F(HuggingFaceFolder, HeadDimDefaultsToHiddenOverHeads) {
  with_config(hf("rand-tied-mha"), [](json& c) { c.erase("head_dim"); });
  EXPECT_EQ(load().config.head_dim, 32);  // 96 / 3
}

TEST_F(HuggingFaceFolder, ExplicitHeadDimIsUsed) {
  // 64 != 96 / 3: the q projection rows no longer match.
  with_config(hf("rand-tied-mha"), [](json& c) { c["head_dim"] = 64; });
  expect_load_error({dir_.string(), "'model.layers.0.self_attn.q_proj.weight'", "[192, 96]"});
}

TEST_F(HuggingFaceFolder, KvHeadsDefaultToHeads) {
  with_config(hf("rand-tied-mha"), [](json& c) { c.erase("num_key_value_heads"); });
  EXPECT_EQ(load().config.kv_heads, 3);
}

TEST_F(HuggingFaceFolder, RopeScalingVariants) {
  with_config(hf("rand-tied-mha"), [](json& c) {
    c.erase("rope_parameters");
    c["rope_theta"] = 20000.0;
    c["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  });
  Model m = load();
  EXPECT_EQ(m.config.rope.theta, 20000.0);
  EXPECT_EQ(m.config.rope.scaling, RopeScaling::kLinear);
  EXPECT_EQ(m.config.rope.factor, 2.0);

  json c = testing::read_json(hf("rand-tied-mha") / "config.json");
  c.erase("rope_parameters");
  write_file(dir_ / "config.json", c.dump());
  m = load();  // LlamaConfig's defaults
  EXPECT_EQ(m.config.rope.theta, 10000.0);
  EXPECT_EQ(m.config.rope.scaling, RopeScaling::kNone);

  c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  write_file(dir_ / "config.json", c.dump());
  expect_load_error({config_path(), "RoPE type 'yarn' is not supported"});

  c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  write_file(dir_ / "config.json", c.dump());
  expect_load_error({config_path(), "missing rope_scaling.low_freq_factor"});
}

TEST_F(HuggingFaceFolder, TokenizerSettings) {
  with_config(hf("rand-tied-mha"), [](json& c) { c["eos_token_id"] = {3, 2}; });
  fs::remove(dir_ / "tokenizer_config.json");
  write_file(dir_ / "tokenizer_config.json", R"({"add_bos_token": false, "add_eos_token": true})");
  const Model m = load();
  EXPECT_EQ(m.vocab.eos_id, 3);
  EXPECT_FALSE(m.vocab.add_bos);
  EXPECT_TRUE(m.vocab.add_eos);

  json c = testing::read_json(hf("rand-tied-mha") / "config.json");
  c["bos_token_id"] = 4096;
  write_file(dir_ / "config.json", c.dump());
  expect_load_error({config_path(), "bos_token_id 4096 is outside the vocabulary"});
}

TEST_F(HuggingFaceFolder, TokenizerFiles) {
  link_fixture(hf("rand-tied-mha"), {"tokenizer.model"});
  const Model m = load();  // weights only: no text, ids still work
  EXPECT_EQ(m.vocab.size(), 0);
  write_file(dir_ / "tokenizer.json", "{}");
  expect_load_error({"tokenizer.json", "no \"model\""});
  // A folder with only a byte-level BPE tokenizer.json uses it.
  fs::remove(dir_ / "tokenizer.json");
  fs::copy_file(etch::testing::fixtures() / "tokenizers" / "bpe4096-llama3.tokenizer.json",
                dir_ / "tokenizer.json");
  const Model bpe = load();
  EXPECT_EQ(bpe.vocab.kind, tokenize::TokenizerKind::kByteLevelBpe);
  EXPECT_EQ(bpe.vocab.size(), 4096);
}

TEST_F(HuggingFaceFolder, VocabularyContradictsEmbedding) {
  // The tokenizer (4096 pieces) and the embedding (4096 rows) both disagree with the config.
  with_config(hf("rand-tied-mha"), [](json& c) { c["vocab_size"] = 4000; });
  expect_load_error({dir_.string(), "4096"});
}

TEST_F(HuggingFaceFolder, UnsupportedBias) {
  const fs::path source = hf("rand-tied-mha");
  link_fixture(source, {"model.safetensors"});
  const safetensors::File whole = safetensors::open((source / "model.safetensors").string());
  std::vector<safetensors::TensorData> tensors;
  for (size_t i = 0; i < whole.tensors.size(); ++i) {
    const Tensor& t = whole.tensors[i];
    tensors.push_back({t.name, whole.header.entries[i].dtype, t.shape, {t.data, t.bytes}});
  }
  const std::vector<uint8_t> zeros(96 * 4);
  tensors.push_back({"model.layers.0.self_attn.o_proj.bias", "F32", {96}, zeros});
  write_file(dir_ / "model.safetensors", safetensors::serialize(tensors));
  expect_load_error({"model.safetensors", "'model.layers.0.self_attn.o_proj.bias'", "bias"});
}

}  // namespace
}  // namespace etch::import
