// A tiny random Llama built in memory, for tests of the compile stage and the engines.
#pragma once

#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "compile/compile.hpp"
#include "import/import.hpp"
#include "test_support.hpp"

namespace etch::testing {

struct TinyModel {
  std::vector<std::vector<float>> storage;
  import::Model model;

  import::Tensor tensor(const std::string& name, std::vector<int64_t> shape, std::mt19937& rng,
                        float lo, float hi){int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::uniform_real_distribution<float> pick(lo, hi);
  std::vector<float>& data = storage.emplace_back(static_cast<size_t>(n));
  for (float& v : data) v = pick(rng);
  import::Tensor t;
  t.name = name;
  t.type = import::TensorType::kF32;
  t.shape = std::move(shape);
  t.data = reinterpret_cast<const uint8_t*>(data.data());
  t.bytes = static_cast<uint64_t>(n) * 4;
  return t;
}

// With `biases`, every layer has q, k, v and output projection biases; `reshape` may change
// the shapes (and tied_embeddings) before the weights are drawn.
explicit TinyModel(bool biases = false,
                   const std::function<void(import::ModelConfig&)>& reshape = {}) {
  std::mt19937 rng(42);
  auto& c = model.config;
  c.vocab_size = 48;
  c.hidden_size = 64;
  c.layers = 2;
  c.heads = 4;
  c.kv_heads = 2;
  c.head_dim = 16;
  c.ffn_size = 96;
  c.context_length = 64;
  c.rope.dims = 16;
  if (reshape) reshape(c);
  model.path = "tiny";
  model.format = "test";
  auto& v = model.vocab;
  for (int i = 0; i < c.vocab_size; ++i) {
    v.tokens.push_back(i == 1 ? "<s>" : i == 2 ? "</s>" : "\xe2\x96\x81t" + std::to_string(i));
    v.scores.push_back(static_cast<float>(-i));
    v.types.push_back(i < 3 ? tokenize::TokenType::kControl : tokenize::TokenType::kNormal);
  }
  v.bos_id = 1;
  v.eos_id = 2;
  v.eog_ids = {2};
  v.chat_template = "{{ messages }}";
  const int64_t d = c.hidden_size, q = c.heads * c.head_dim, kv = c.kv_heads * c.head_dim,
                f = c.ffn_size;
  model.token_embedding = tensor("token_embd", {c.vocab_size, d}, rng, -1, 1);
  for (int64_t l = 0; l < c.layers; ++l) {
    import::LayerWeights w;
    w.attn_norm = tensor("attn_norm", {d}, rng, 0.5f, 1.5f);
    w.wq = tensor("wq", {q, d}, rng, -0.2f, 0.2f);
    w.wk = tensor("wk", {kv, d}, rng, -0.2f, 0.2f);
    w.wv = tensor("wv", {kv, d}, rng, -0.2f, 0.2f);
    w.wo = tensor("wo", {d, q}, rng, -0.2f, 0.2f);
    w.ffn_norm = tensor("ffn_norm", {d}, rng, 0.5f, 1.5f);
    w.w_gate = tensor("w_gate", {f, d}, rng, -0.2f, 0.2f);
    w.w_up = tensor("w_up", {f, d}, rng, -0.2f, 0.2f);
    w.w_down = tensor("w_down", {d, f}, rng, -0.2f, 0.2f);
    if (biases) {
      w.bq = tensor("bq", {q}, rng, -0.5f, 0.5f);
      w.bk = tensor("bk", {kv}, rng, -0.5f, 0.5f);
      w.bv = tensor("bv", {kv}, rng, -0.5f, 0.5f);
      w.bo = tensor("bo", {d}, rng, -0.5f, 0.5f);
    }
    model.layers.push_back(w);
  }
  model.output_norm = tensor("output_norm", {d}, rng, 0.5f, 1.5f);
  model.output = c.tied_embeddings ? model.token_embedding
                                   : tensor("output", {c.vocab_size, d}, rng, -0.2f, 0.2f);
  c.qkv_bias = biases;
}
};  // namespace etch::testing

// One shared instance of each kind (a test's engines may keep pointers into it).
inline const TinyModel& tiny_model(bool biases) {
  static const TinyModel plain(false), biased(true);
  return biases ? biased : plain;
}

// Builds the tiny model with `recipe` (no calibration) into a test folder; returns the path.
inline std::string write_tiny_etch(const std::string& recipe, const std::string& name,
                                   bool biases = false) {
  const std::filesystem::path path = temp_dir("etch") / (name + ".etch");
  compile::BuildOptions options;
  options.recipe = recipe;
  options.threads = 2;
  compile::build(tiny_model(biases).model, nullptr, options, path.string());
  return path.string();
}

}  // namespace etch::testing
