// The fixtures' GGUF files (converted and quantized by llama.cpp itself) against their Hugging
// Face originals: configs agree, tensors agree exactly where the format can represent them,
// quantized tensors are close, and llama.cpp's vocab-only files read.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <numbers>

#include "core/error.hpp"
#include "core/half.hpp"
#include "import/gguf.hpp"
#include "import/import.hpp"
#include "test_support.hpp"

namespace etch::import {
namespace {

namespace fs = std::filesystem;
using etch::testing::model_dir;

fs::path gguf_path(const std::string& model, const std::string& type) {
  return model_dir(model) / (model + "-" + type + ".gguf");
}

std::vector<float> dequantized(const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.elements()));
  for (int64_t r = 0; r < t.rows(); ++r) t.dequantize_row(r, out.data() + r * t.cols());
  return out;
}

const Tensor& tensor(const Model& m, const std::string& name) {
  for (const Tensor& t : m.tensors)
    if (t.name == name) return t;
  throw Error("no tensor " + name);
}

struct Case {
  std::string model, type;
};

class GgufFixtures : public ::testing::TestWithParam<Case> {};

TEST_P(GgufFixtures, LoadsWithTheHuggingFaceConfig) {
  const Case c = GetParam();
  const fs::path path = gguf_path(c.model, c.type);
  const nlohmann::json hf = etch::testing::read_json(model_dir(c.model) / "hf" / "config.json");
  const Model m = load_gguf(path.string());
  const ModelConfig& k = m.config;
  EXPECT_EQ(m.format, "gguf");
  EXPECT_EQ(k.architecture, "llama");
  EXPECT_EQ(k.vocab_size, hf["vocab_size"].get<int64_t>());
  EXPECT_EQ(k.hidden_size, hf["hidden_size"].get<int64_t>());
  EXPECT_EQ(k.layers, hf["num_hidden_layers"].get<int64_t>());
  EXPECT_EQ(k.heads, hf["num_attention_heads"].get<int64_t>());
  EXPECT_EQ(k.kv_heads, hf["num_key_value_heads"].get<int64_t>());
  EXPECT_EQ(k.head_dim, hf["head_dim"].get<int64_t>());
  EXPECT_EQ(k.ffn_size, hf["intermediate_size"].get<int64_t>());
  EXPECT_EQ(k.context_length, hf["max_position_embeddings"].get<int64_t>());
  EXPECT_EQ(static_cast<float>(k.rms_eps), hf["rms_norm_eps"].get<float>());
  EXPECT_EQ(k.rope.theta, hf["rope_parameters"]["rope_theta"].get<double>());
  EXPECT_EQ(k.rope.dims, k.head_dim);
  EXPECT_EQ(k.rope.layout, RopeLayout::kInterleaved);
  EXPECT_EQ(k.tied_embeddings, hf["tie_word_embeddings"].get<bool>());
  EXPECT_FALSE(k.qkv_bias);
  EXPECT_EQ(m.layers.size(), static_cast<size_t>(k.layers));
  EXPECT_EQ(m.vocab.size(), k.vocab_size);
  EXPECT_EQ(m.vocab.kind, tokenize::TokenizerKind::kSentencePiece);
  EXPECT_EQ(m.vocab.bos_id, hf["bos_token_id"].get<int>());
  EXPECT_EQ(m.vocab.eos_id, hf["eos_token_id"].get<int>());
  EXPECT_TRUE(m.vocab.add_bos);
  EXPECT_FALSE(m.vocab.add_eos);
  EXPECT_EQ(m.files.size(), 1u);
  EXPECT_FALSE(m.metadata.empty());

  // Llama-3 scaling reaches the GGUF only as rope_freqs, which llama.cpp's converter computed
  // from the HF rope_parameters: recompute it here.
  const nlohmann::json& rp = hf["rope_parameters"];
  if (rp["rope_type"] == "llama3") {
    const double factor = rp["factor"], low = rp["low_freq_factor"], high = rp["high_freq_factor"];
    const double original = rp["original_max_position_embeddings"];
    ASSERT_EQ(k.rope.freq_factors.size(), static_cast<size_t>(k.rope.dims / 2));
    for (size_t i = 0; i < k.rope.freq_factors.size(); ++i) {
      const double freq = std::pow(k.rope.theta, -2.0 * static_cast<double>(i) / k.rope.dims);
      const double wavelen = 2 * std::numbers::pi / freq;
      double expect = 1;
      if (wavelen > original / low) {
        expect = factor;
      } else if (wavelen >= original / high) {
        const double smooth = (original / wavelen - low) / (high - low);
        expect = 1 / ((1 - smooth) / factor + smooth);
      }
      EXPECT_NEAR(k.rope.freq_factors[i], expect, 1e-5 * expect) << i;
    }
  } else {
    EXPECT_TRUE(k.rope.freq_factors.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(All, GgufFixtures,
                         ::testing::Values(Case{"kjv-8m", "bf16"}, Case{"kjv-8m", "q8_0"},
                                           Case{"kjv-8m", "q4_0"}, Case{"kjv-8m", "q4_k_m"},
                                           Case{"rand-llama3-gqa", "f32"},
                                           Case{"rand-llama3-gqa", "f16"},
                                           Case{"rand-tied-mha", "f32"},
                                           Case{"rand-tied-mha", "f16"}),
                         [](const auto& info) {
                           std::string name = info.param.model + "_" + info.param.type;
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

// The f16 files are the f32 ones rounded to binary16, tensor for tensor (norms stay f32).
TEST(GgufFixtureTensors, F16IsF32Rounded) {
  for (const char* name : {"rand-llama3-gqa", "rand-tied-mha"}) {
    const Model a = load_gguf(gguf_path(name, "f32").string());
    const Model b = load_gguf(gguf_path(name, "f16").string());
    ASSERT_EQ(a.tensors.size(), b.tensors.size());
    int f16_tensors = 0;
    for (size_t i = 0; i < a.tensors.size(); ++i) {
      const Tensor& ta = a.tensors[i];
      const Tensor& tb = tensor(b, ta.name);
      ASSERT_EQ(ta.shape, tb.shape) << ta.name;
      ASSERT_EQ(ta.type, TensorType::kF32);
      const auto va = dequantized(ta), vb = dequantized(tb);
      f16_tensors += tb.type == TensorType::kF16;
      for (size_t j = 0; j < va.size(); ++j) {
        const float want = tb.type == TensorType::kF16 ? fp16_to_f32(f32_to_fp16(va[j])) : va[j];
        // One comparison, not a gtest macro, per element: this runs under ASan in CI.
        if (std::bit_cast<uint32_t>(vb[j]) != std::bit_cast<uint32_t>(want))
          FAIL() << ta.name << "[" << j << "]: " << vb[j] << " != " << want;
      }
    }
    EXPECT_GE(f16_tensors, 3) << name;
  }
}

// A minimal safetensors reader (header JSON + raw data) so that this test does not depend on
// the Hugging Face importer.
struct SafeTensors {
  std::string bytes;
  nlohmann::json header;
  size_t data = 0;
  explicit SafeTensors(const fs::path& path) : bytes(etch::testing::read_text(path)) {
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    header = nlohmann::json::parse(bytes.substr(8, n));
    data = 8 + n;
  }
  std::vector<float> bf16(const std::string& name) const {
    const auto& h = header.at(name);
    EXPECT_EQ(h["dtype"], "BF16");
    const size_t begin = h["data_offsets"][0], end = h["data_offsets"][1];
    std::vector<float> out((end - begin) / 2);
    for (size_t i = 0; i < out.size(); ++i) {
      uint16_t v;
      std::memcpy(&v, bytes.data() + data + begin + 2 * i, 2);
      out[i] = bf16_to_f32(v);
    }
    return out;
  }
};

// llama.cpp's converter reorders the rows of each Q/K head from rotate-half pairs (i, i+d/2)
// to interleaved pairs (2i, 2i+1); this maps a GGUF row to the HF row it came from.
int64_t hf_row(int64_t gguf_row, int64_t head_dim) {
  const int64_t head = gguf_row / head_dim, r = gguf_row % head_dim;
  return head * head_dim + (r % 2) * (head_dim / 2) + r / 2;
}

TEST(GgufFixtureTensors, Bf16GgufEqualsHuggingFaceWeights) {
  const Model m = load_gguf(gguf_path("kjv-8m", "bf16").string());
  const SafeTensors hf(model_dir("kjv-8m") / "hf" / "model.safetensors");
  std::map<std::string, std::string> names = {{"token_embd.weight", "model.embed_tokens.weight"},
                                              {"output.weight", "lm_head.weight"},
                                              {"output_norm.weight", "model.norm.weight"}};
  const std::map<std::string, std::string> layer = {
      {"attn_norm", "input_layernorm"},    {"attn_q", "self_attn.q_proj"},
      {"attn_k", "self_attn.k_proj"},      {"attn_v", "self_attn.v_proj"},
      {"attn_output", "self_attn.o_proj"}, {"ffn_norm", "post_attention_layernorm"},
      {"ffn_gate", "mlp.gate_proj"},       {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"}};
  for (int64_t l = 0; l < m.config.layers; ++l)
    for (const auto& [g, h] : layer)
      names["blk." + std::to_string(l) + "." + g + ".weight"] =
          "model.layers." + std::to_string(l) + "." + h + ".weight";
  ASSERT_EQ(m.tensors.size(), names.size());
  for (const Tensor& t : m.tensors) {
    SCOPED_TRACE(t.name);
    const auto hf_values = hf.bf16(names.at(t.name));
    const auto values = dequantized(t);
    ASSERT_EQ(values.size(), hf_values.size());
    const bool permuted =
        t.name.find("attn_q.") != std::string::npos || t.name.find("attn_k.") != std::string::npos;
    const int64_t cols = t.cols();
    for (int64_t r = 0; r < t.rows(); ++r) {
      const int64_t source = permuted ? hf_row(r, m.config.head_dim) : r;
      for (int64_t c = 0; c < cols; ++c)
        if (values[r * cols + c] != hf_values[source * cols + c])
          FAIL() << "row " << r << " col " << c << ": " << values[r * cols + c]
                 << " != " << hf_values[source * cols + c];
    }
  }
}

// Relative RMS error of each quantized file's weights against the bf16 original, over all
// matrices. Measured: q8_0 0.52%, q4_0 6.9% (one q6_K output), q4_k_m 5.5% (49 q4_K, 9 q6_K).
TEST(GgufFixtureTensors, QuantizedCloseToBf16) {
  const Model ref = load_gguf(gguf_path("kjv-8m", "bf16").string());
  std::map<std::string, std::vector<float>> reference;  // decoded once for all three files
  for (const Tensor& t : ref.tensors) reference[t.name] = dequantized(t);
  const std::map<std::string, double> bounds = {{"q8_0", 0.007}, {"q4_0", 0.09}, {"q4_k_m", 0.07}};
  for (const auto& [type, bound] : bounds) {
    const Model q = load_gguf(gguf_path("kjv-8m", type).string());
    double err = 0, norm = 0;
    std::map<std::string, int> types;
    for (const Tensor& t : q.tensors) {
      ASSERT_EQ(t.shape, tensor(ref, t.name).shape);
      const auto a = dequantized(t);
      const auto& b = reference.at(t.name);
      double e = 0, n = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        e += (a[i] - b[i]) * double(a[i] - b[i]);
        n += double(b[i]) * b[i];
      }
      ASSERT_TRUE(std::isfinite(e)) << t.name;
      if (t.shape.size() == 2) {
        types[type_traits(t.type).name]++;
        err += e;
        norm += n;
        EXPECT_LT(std::sqrt(e / n), 2 * bound) << type << " " << t.name;
      } else {
        EXPECT_EQ(e, 0) << t.name;  // norms stay unquantized
      }
    }
    const double rel = std::sqrt(err / norm);
    std::string mix;
    for (const auto& [name, count] : types) mix += " " + name + "×" + std::to_string(count);
    std::printf("[ measured ] kjv-8m %s: relative RMS error %.4f%% (%s )\n", type.c_str(),
                100 * rel, mix.c_str());
    EXPECT_LT(rel, bound) << type;
    EXPECT_GT(rel, 0) << type;
  }
}

TEST(GgufFixtureVocabularies, LlamaCppVocabOnlyFiles) {
  struct Expect {
    const char* file;
    tokenize::TokenizerKind kind;
    int32_t size;
    const char* pre;
  };
  const Expect cases[] = {
      {"ggml-vocab-llama-spm.gguf", tokenize::TokenizerKind::kSentencePiece, 32000, ""},
      {"ggml-vocab-gpt-2.gguf", tokenize::TokenizerKind::kByteLevelBpe, 50257, "gpt-2"},
      {"ggml-vocab-falcon.gguf", tokenize::TokenizerKind::kByteLevelBpe, 65024, "falcon"},
      {"ggml-vocab-deepseek-llm.gguf", tokenize::TokenizerKind::kByteLevelBpe, 102400,
       "deepseek-llm"},
  };
  for (const Expect& e : cases) {
    SCOPED_TRACE(e.file);
    const fs::path path = etch::testing::fixtures() / "tokenizers" / e.file;
    const tokenize::Vocabulary v = load_gguf_vocabulary(path.string());
    EXPECT_EQ(v.kind, e.kind);
    EXPECT_EQ(v.size(), e.size);
    EXPECT_EQ(v.types.size(), v.tokens.size());
    EXPECT_EQ(v.pre_tokenizer, e.pre);
    if (v.kind == tokenize::TokenizerKind::kSentencePiece) {
      EXPECT_EQ(v.scores.size(), v.tokens.size());
      EXPECT_TRUE(v.add_space_prefix);
      EXPECT_EQ(v.bos_id, 1);
      EXPECT_EQ(v.unk_id, 0);
      EXPECT_EQ(v.tokens[3], "<0x00>");
    } else {
      EXPECT_GT(v.merges.size(), 40000u);
      EXPECT_FALSE(v.add_space_prefix);
    }
    // No weights in these files: loading one as a model names what is missing.
    const std::string message = testing::error_of([&] { load_gguf(path.string()); });
    EXPECT_EQ(message.rfind(path.string() + ": ", 0), 0u) << message;
  }
}

}  // namespace
}  // namespace etch::import
