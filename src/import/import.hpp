// etch import: reads a Llama-family model from a GGUF file or a Hugging Face folder into one
// in-memory description (config, vocabulary, memory-mapped tensors). Nothing is copied or
// converted here: later stages read the tensors in their stored type.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/mapped_file.hpp"
#include "tokenize/vocabulary.hpp"

namespace etch::import {

// Tensor element types, numbered as ggml numbers them (the numbers GGUF stores).
enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kIQ4_NL = 20,
  kBF16 = 30,
};

struct TypeTraits {
  const char* name;        // ggml's name: "f32", "q4_K", ...
  int64_t block_elements;  // elements per block (1 for plain floats)
  int64_t block_bytes;     // bytes per block
};

// Traits of a supported type; nullopt for a number etch does not know.
std::optional<TypeTraits> type_traits(uint32_t type);
const TypeTraits& type_traits(TensorType type);

// Dequantizes `count` elements (a multiple of the type's block size) starting at `src`,
// exactly as ggml defines each format.
void dequantize(TensorType type, const uint8_t* src, float* dst, int64_t count);

// A tensor stored in a mapped file. shape is outermost first, as PyTorch writes it:
// a weight matrix is {rows = outputs, cols = inputs} and rows are contiguous.
struct Tensor {
  std::string name;
  TensorType type = TensorType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  uint64_t bytes = 0;

  int64_t cols() const { return shape.empty() ? 1 : shape.back(); }
  int64_t rows() const;
  int64_t elements() const;
  uint64_t row_bytes() const;
  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes(); }
  // Dequantizes row r into dst[0, cols()).
  void dequantize_row(int64_t r, float* dst) const;
};

enum class RopeLayout {
  kInterleaved,  // rotates pairs (2i, 2i+1): llama.cpp's layout, Q/K rows permuted by converters
  kHalfSplit,    // rotates pairs (i, i + d/2): Hugging Face's rotate_half layout
};

enum class RopeScaling { kNone, kLinear, kLlama3 };

struct RopeConfig {
  double theta = 10000.0;
  RopeLayout layout = RopeLayout::kHalfSplit;
  RopeScaling scaling = RopeScaling::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  int64_t original_context = 8192;
  int64_t dims = 0;  // rotated dimensions per head (= head_dim for Llama)
  // Per-frequency divisors from a GGUF's rope_freqs tensor; when present they replace the
  // scaling rule above (llama.cpp's converters precompute llama3 scaling into it).
  std::vector<float> freq_factors;
};

struct ModelConfig {
  std::string architecture = "llama";
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t ffn_size = 0;
  int64_t context_length = 0;
  double rms_eps = 1e-5;
  RopeConfig rope;
  bool tied_embeddings = false;
  bool qkv_bias = false;  // Q/K/V projection biases (Qwen2; Llama with attention_bias)
};

// The tensors of a Llama-family model, named once. Each file format spells a role with its own
// name table: gguf_name() and huggingface_name() here, compile::etch_name() for .etch files.
enum class Role {
  kTokenEmbedding,
  kAttnNorm,
  kAttnQ,
  kAttnK,
  kAttnV,
  kAttnOutput,
  kAttnQBias,
  kAttnKBias,
  kAttnVBias,
  kAttnOutputBias,
  kFfnNorm,
  kFfnGate,
  kFfnUp,
  kFfnDown,
  kOutputNorm,
  kOutput,
};
// The seven weight matrices of a layer, in the order a token meets them.
inline constexpr std::array<Role, 7> kLayerMatrices = {
    Role::kAttnQ,   Role::kAttnK, Role::kAttnV,  Role::kAttnOutput,
    Role::kFfnGate, Role::kFfnUp, Role::kFfnDown};
// Whether a role names one tensor per layer (then the name functions need the layer).
bool is_layer_role(Role role);
// "blk.3.attn_q.weight", "token_embd.weight", ...
std::string gguf_name(Role role, int64_t layer = -1);
// "model.layers.3.self_attn.q_proj.weight", "lm_head.weight", ...
std::string huggingface_name(Role role, int64_t layer = -1);

struct LayerWeights {
  Tensor attn_norm, wq, wk, wv, wo;
  std::optional<Tensor> bq, bk, bv;
  std::optional<Tensor> bo;  // output projection bias (Llama with attention_bias; not Qwen2)
  Tensor ffn_norm, w_gate, w_up, w_down;
  // The layer's weight matrix of `role` (one of kLayerMatrices).
  const Tensor& matrix(Role role) const;
};

struct Model {
  std::string path;
  std::string format;  // "gguf" or "huggingface"
  ModelConfig config;
  tokenize::Vocabulary vocab;
  Tensor token_embedding;
  Tensor output_norm;
  Tensor output;  // the token embedding again when tied
  std::vector<LayerWeights> layers;
  std::vector<Tensor> tensors;  // every tensor of the source, in file order
  std::vector<std::pair<std::string, std::string>> metadata;  // key, value rendered as text
  std::vector<SharedMappedFile> files;                        // keeps the mappings alive
};

// A LoRA adapter: per layer matrix W, the low-rank update W' = W + scale * B A applied as
// y += scale * B (A x). Read from PEFT (adapter_config.json + adapter_model.safetensors) or from
// llama.cpp's GGUF LoRA (general.type "adapter").
struct AdapterMatrix {
  Role role = Role::kAttnQ;  // one of kLayerMatrices
  int64_t layer = 0;
  int64_t rows = 0, cols = 0, rank = 0;
  float scale = 0;       // alpha / rank (alpha / sqrt(rank) for PEFT's rsLoRA)
  std::vector<float> a;  // rank x cols, row-major
  std::vector<float> b;  // rows x rank, rows in the base model's RoPE layout (q and k)
};

struct Adapter {
  std::string path;
  std::string name;    // the file or folder name without its extension, for logs and requests
  std::string format;  // "peft" or "gguf"
  double alpha = 0;
  std::vector<AdapterMatrix> matrices;  // in layer order, kLayerMatrices order within a layer
  // The matrix of (role, layer), or nullptr when the adapter leaves it alone.
  const AdapterMatrix* find(Role role, int64_t layer) const;
  int64_t parameters() const;  // elements of every A and B
};

// Reads a LoRA adapter (a PEFT folder or its adapter_model.safetensors, or a GGUF LoRA file)
// for a base model of shape `base`, validated against it: targets the seven layer matrices
// only, every A and B present with shapes that fit the base, one rank, finite values. q and k
// rows of B are permuted between the two RoPE layouts when the adapter's differs from the
// base's. Throws Error naming the adapter and the problem.
Adapter load_adapter(const std::string& path, const ModelConfig& base);

// Inverse frequencies of the rotary embedding, one per rotated pair, with the model's scaling
// rule applied, rounded to float32 as llama.cpp and Hugging Face's from_pretrained hold them
// whatever the weights' dtype.
std::vector<double> rope_inverse_frequencies(const RopeConfig& rope);

// Loads a GGUF file or a Hugging Face folder (decided by what `path` is).
Model load_model(const std::string& path);
Model load_gguf(const std::string& path);
Model load_huggingface(const std::string& directory);
// Reads the model shape from a Hugging Face config.json held in memory (`name` names it in
// messages); load_huggingface uses it, the fuzzer calls it directly.
ModelConfig parse_huggingface_config(std::string_view text, const std::string& name);

// Reads only the vocabulary of a GGUF file (vocab-only GGUFs have no tensors to load).
tokenize::Vocabulary load_gguf_vocabulary(const std::string& path);

// Checks every tensor's presence, type and shape against the config; throws Error naming
// `model.path` and the tensor on the first contradiction. Called by both loaders.
void validate(const Model& model);

// Throws Error naming `model.path` and the first tensor that holds a NaN or an infinity. Its
// cost is one dequantizing pass over every weight, spread over `threads` (0: all cores): about
// what one decoded token costs the float engine, paid once before the first.
void check_finite(const Model& model, int threads);

}  // namespace etch::import
