// A Llama-family etch Model from a parsed GGUF: the `llama` architecture keys, the tensor names
// llama.cpp's converters write, and the tokenizer.ggml.* vocabulary.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "import/gguf.hpp"
#include "import/import.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::import {

namespace gguf {

namespace {

using tokenize::TokenizerKind;
using tokenize::TokenType;
using tokenize::Vocabulary;

class Keys {
 public:
  explicit Keys(const File& file) : file_(file) {}

  const Value* find(const std::string& key) const { return file_.find(key); }

  std::optional<int64_t> integer(const std::string& key, int64_t min, int64_t max) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_integer())
      fail_file(file_.path, "{} has type {}, expected an integer", key, value_type_name(v->type));
    if ((v->type == ValueType::kUint64 && v->uinteger > static_cast<uint64_t>(max)) ||
        v->integer < min || v->integer > max)
      fail_file(file_.path, "{} = {} is out of range [{}, {}]", key, v->render(), min, max);
    return v->integer;
  }

  int64_t required_integer(const std::string& key, int64_t min, int64_t max) const {
    auto v = integer(key, min, max);
    if (!v) fail_file(file_.path, "missing metadata key {}", key);
    return *v;
  }

  std::optional<double> real(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->is_float()) return v->real;
    if (v->is_integer()) return static_cast<double>(v->integer);
    fail_file(file_.path, "{} has type {}, expected a number", key, value_type_name(v->type));
  }

  std::optional<std::string> string(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != ValueType::kString)
      fail_file(file_.path, "{} has type {}, expected a string", key, value_type_name(v->type));
    return std::string(v->string);
  }

  std::optional<bool> boolean(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type == ValueType::kBool || v->is_integer()) return v->integer != 0;
    fail_file(file_.path, "{} has type {}, expected a bool", key, value_type_name(v->type));
  }

  // An array of the given element kind; nullptr when absent.
  const Value* array(const std::string& key, bool strings) const {
    const Value* v = find(key);
    if (!v) return nullptr;
    const bool ok =
        v->is_array() && (strings ? v->element_type == ValueType::kString : v->numeric_elements());
    if (!ok)
      fail_file(file_.path, "{} has type {}{}, expected an array of {}", key,
                value_type_name(v->type),
                v->is_array() ? fmt::format(" of {}", value_type_name(v->element_type)) : "",
                strings ? "strings" : "numbers");
    return v;
  }

 private:
  const File& file_;
};

constexpr int64_t kMaxDimension = int64_t{1} << 24;

}  // namespace

tokenize::Vocabulary to_vocabulary(const File& file) {
  const Keys keys(file);
  Vocabulary vocab;
  const auto model = keys.string("tokenizer.ggml.model");
  if (!model) fail_file(file.path, "no tokenizer (missing tokenizer.ggml.model)");
  if (*model == "llama") {
    vocab.kind = TokenizerKind::kSentencePiece;
    vocab.add_space_prefix = true;
    vocab.add_bos = true;
  } else if (*model == "gpt2") {
    vocab.kind = TokenizerKind::kByteLevelBpe;
    vocab.add_space_prefix = false;
    vocab.add_bos = false;
    vocab.pre_tokenizer = keys.string("tokenizer.ggml.pre").value_or("default");
    auto steps = tokenize::named_pre_tokenizer(vocab.pre_tokenizer);
    if (!steps)
      fail_file(file.path, "unknown pre-tokenizer tokenizer.ggml.pre = '{}' (etch knows: {})",
                vocab.pre_tokenizer, tokenize::known_pre_tokenizers());
    vocab.pre_splits = std::move(*steps);
    // Llama 3's tokenizer.json sets ignore_merges; llama.cpp implies it from the name.
    vocab.ignore_merges = vocab.pre_tokenizer == "llama-bpe" || vocab.pre_tokenizer == "llama3";
  } else {
    fail_file(file.path, "unsupported tokenizer model '{}' (etch reads 'llama' and 'gpt2')",
              *model);
  }

  const Value* tokens = keys.array("tokenizer.ggml.tokens", true);
  if (!tokens) fail_file(file.path, "missing metadata key tokenizer.ggml.tokens");
  if (tokens->count == 0 || tokens->count > static_cast<uint64_t>(kMaxDimension))
    fail_file(file.path, "implausible vocabulary size {}", tokens->count);
  const uint64_t n = tokens->count;
  vocab.tokens.reserve(n);
  for (std::string_view t : tokens->strings) vocab.tokens.emplace_back(t);

  if (const Value* scores = keys.array("tokenizer.ggml.scores", false)) {
    if (scores->count != n)
      fail_file(file.path, "tokenizer.ggml.scores has {} entries but there are {} tokens",
                scores->count, n);
    vocab.scores.resize(n);
    for (uint64_t i = 0; i < n; ++i) vocab.scores[i] = static_cast<float>(scores->real_at(i));
  } else if (vocab.kind == TokenizerKind::kSentencePiece) {
    fail_file(file.path, "missing metadata key tokenizer.ggml.scores (SentencePiece needs them)");
  }

  if (const Value* types = keys.array("tokenizer.ggml.token_type", false)) {
    if (types->count != n)
      fail_file(file.path, "tokenizer.ggml.token_type has {} entries but there are {} tokens",
                types->count, n);
    vocab.types.resize(n);
    for (uint64_t i = 0; i < n; ++i) {
      const int64_t t = types->int_at(i);
      if (t < 0 || t > static_cast<int64_t>(TokenType::kByte))
        fail_file(file.path, "token {} has unknown token type {}", i, t);
      vocab.types[i] = static_cast<TokenType>(t);
    }
  } else {
    vocab.types.assign(n, TokenType::kNormal);
  }

  if (vocab.kind == TokenizerKind::kByteLevelBpe) {
    const Value* merges = keys.array("tokenizer.ggml.merges", true);
    if (!merges)
      fail_file(file.path, "missing metadata key tokenizer.ggml.merges (BPE needs them)");
    vocab.merges.reserve(merges->count);
    for (std::string_view m : merges->strings) vocab.merges.emplace_back(m);
  }

  auto special = [&](const char* key, int32_t& id) {
    // -1 (as int32 or its uint32 image) is how some converters say "none".
    const Value* v = keys.find(key);
    if (!v) return;
    if (v->is_integer() &&
        (v->integer == -1 || (v->type == ValueType::kUint32 && v->uinteger == 0xffffffffu))) {
      id = -1;
      return;
    }
    const auto value = keys.integer(key, 0, std::numeric_limits<int32_t>::max());
    if (*value >= static_cast<int64_t>(n))
      fail_file(file.path, "{} = {} is not a token (vocabulary has {})", key, *value, n);
    id = static_cast<int32_t>(*value);
  };
  special("tokenizer.ggml.bos_token_id", vocab.bos_id);
  special("tokenizer.ggml.eos_token_id", vocab.eos_id);
  special("tokenizer.ggml.unknown_token_id", vocab.unk_id);
  special("tokenizer.ggml.padding_token_id", vocab.pad_id);
  if (auto b = keys.boolean("tokenizer.ggml.add_bos_token")) vocab.add_bos = *b;
  if (auto b = keys.boolean("tokenizer.ggml.add_eos_token")) vocab.add_eos = *b;
  if (auto b = keys.boolean("tokenizer.ggml.add_space_prefix")) vocab.add_space_prefix = *b;
  if (auto b = keys.boolean("tokenizer.ggml.remove_extra_whitespaces"))
    vocab.remove_extra_whitespaces = *b;
  if (auto t = keys.string("tokenizer.chat_template")) vocab.chat_template = *t;
  tokenize::fill_end_of_generation(vocab);
  // Converters name the end-of-turn token explicitly where it is not one of the known pieces.
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    int32_t id = -1;
    special(key, id);
    if (id >= 0 && std::find(vocab.eog_ids.begin(), vocab.eog_ids.end(), id) == vocab.eog_ids.end())
      vocab.eog_ids.push_back(id);
  }
  return vocab;
}

Model to_model(const File& file) {
  const Keys keys(file);
  Model model;
  model.path = file.path;
  model.format = "gguf";
  if (file.mapping) model.files.push_back(file.mapping);

  if (const auto type = keys.string("general.type"); type && *type == "adapter")
    fail_file(file.path, "is an adapter, not a model: give it to --lora beside its base model");
  const auto arch = keys.string("general.architecture");
  if (!arch) fail_file(file.path, "missing metadata key general.architecture");
  if (*arch != "llama")
    fail_file(file.path, "architecture '{}' is not supported (etch reads 'llama')", *arch);
  ModelConfig& c = model.config;
  c.architecture = *arch;
  const std::string p = *arch + ".";

  c.context_length = keys.required_integer(p + "context_length", 1, int64_t{1} << 32);
  c.hidden_size = keys.required_integer(p + "embedding_length", 1, kMaxDimension);
  c.layers = keys.required_integer(p + "block_count", 1, 1 << 12);
  c.ffn_size = keys.required_integer(p + "feed_forward_length", 1, kMaxDimension);
  c.heads = keys.required_integer(p + "attention.head_count", 1, kMaxDimension);
  c.kv_heads = keys.integer(p + "attention.head_count_kv", 1, kMaxDimension).value_or(c.heads);
  const auto key_length = keys.integer(p + "attention.key_length", 1, kMaxDimension);
  if (!key_length && c.hidden_size % c.heads != 0)
    fail_file(file.path, "embedding length {} is not a multiple of the head count {}",
              c.hidden_size, c.heads);
  c.head_dim = key_length.value_or(c.hidden_size / c.heads);
  if (auto v = keys.integer(p + "attention.value_length", 1, kMaxDimension); v && *v != c.head_dim)
    fail_file(file.path, "value length {} differs from key length {}, which etch does not support",
              *v, c.head_dim);
  c.rms_eps = keys.real(p + "attention.layer_norm_rms_epsilon").value_or(1e-5);

  RopeConfig& rope = c.rope;
  rope.layout = RopeLayout::kInterleaved;  // converters permuted Q/K rows for it
  rope.theta = keys.real(p + "rope.freq_base").value_or(10000.0);
  rope.dims = keys.integer(p + "rope.dimension_count", 1, kMaxDimension).value_or(c.head_dim);
  const std::string scaling = keys.string(p + "rope.scaling.type").value_or("none");
  if (scaling == "none") {
    rope.scaling = RopeScaling::kNone;
  } else if (scaling == "linear") {
    rope.scaling = RopeScaling::kLinear;
  } else if (scaling == "llama3") {
    rope.scaling = RopeScaling::kLlama3;
  } else if (scaling == "yarn") {
    fail_file(file.path, "RoPE scaling 'yarn' is not supported");
  } else {
    fail_file(file.path, "unknown RoPE scaling type '{}'", scaling);
  }
  if (auto f = keys.real(p + "rope.scaling.factor")) rope.factor = *f;
  // Older converters wrote the inverse as rope.scale_linear.
  if (auto f = keys.real(p + "rope.scale_linear"); f && !keys.find(p + "rope.scaling.type")) {
    rope.scaling = RopeScaling::kLinear;
    rope.factor = *f;
  }
  if (rope.scaling != RopeScaling::kNone && !(rope.factor > 0 && std::isfinite(rope.factor)))
    fail_file(file.path, "RoPE scaling factor {} must be positive", rope.factor);
  if (auto o = keys.integer(p + "rope.scaling.original_context_length", 1, int64_t{1} << 32))
    rope.original_context = *o;
  if (!(std::isfinite(c.rms_eps) && std::isfinite(rope.theta)))
    fail_file(file.path, "RMS epsilon and RoPE base must be finite");

  for (const auto& [key, value] : file.metadata) model.metadata.emplace_back(key, value.render());

  model.tensors.reserve(file.tensors.size());
  for (const TensorInfo& t : file.tensors) model.tensors.push_back(t.to_tensor());
  // Hashed: a hostile file may pair a huge block count with a huge tensor directory.
  std::unordered_map<std::string_view, size_t> by_name;
  for (size_t i = 0; i < model.tensors.size(); ++i) by_name.emplace(model.tensors[i].name, i);
  auto get = [&](const std::string& name) {
    if (auto it = by_name.find(name); it != by_name.end()) return model.tensors[it->second];
    Tensor missing;  // no data: validate() reports it by name
    missing.name = name;
    return missing;
  };
  auto optional = [&](const std::string& name) -> std::optional<Tensor> {
    Tensor t = get(name);
    if (!t.data) return std::nullopt;
    return t;
  };

  const std::string embedding = gguf_name(Role::kTokenEmbedding);
  model.token_embedding = get(embedding);
  if (!model.token_embedding.data) fail_file(file.path, "tensor '{}' is missing", embedding);
  if (model.token_embedding.shape.size() != 2)
    fail_file(file.path, "tensor '{}' has {} dimensions, expected 2", embedding,
              model.token_embedding.shape.size());
  c.vocab_size = model.token_embedding.shape[0];
  model.output_norm = get(gguf_name(Role::kOutputNorm));
  if (auto out = optional(gguf_name(Role::kOutput))) {
    model.output = *out;
  } else {
    model.output = model.token_embedding;
    c.tied_embeddings = true;
  }
  model.layers.resize(static_cast<size_t>(c.layers));
  for (int64_t i = 0; i < c.layers; ++i) {
    auto role = [&](Role r) { return get(gguf_name(r, i)); };
    LayerWeights& l = model.layers[static_cast<size_t>(i)];
    l.attn_norm = role(Role::kAttnNorm);
    l.wq = role(Role::kAttnQ);
    l.wk = role(Role::kAttnK);
    l.wv = role(Role::kAttnV);
    l.wo = role(Role::kAttnOutput);
    l.bq = optional(gguf_name(Role::kAttnQBias, i));
    l.bk = optional(gguf_name(Role::kAttnKBias, i));
    l.bv = optional(gguf_name(Role::kAttnVBias, i));
    l.bo = optional(gguf_name(Role::kAttnOutputBias, i));
    if (l.bq || l.bk || l.bv) c.qkv_bias = true;
    l.ffn_norm = role(Role::kFfnNorm);
    l.w_gate = role(Role::kFfnGate);
    l.w_up = role(Role::kFfnUp);
    l.w_down = role(Role::kFfnDown);
  }

  if (auto freqs = optional("rope_freqs.weight")) {
    const int64_t n = freqs->elements();
    if (freqs->shape.size() != 1 || n != rope.dims / 2)
      fail_file(file.path, "tensor 'rope_freqs.weight' has {} elements, expected {}", n,
                rope.dims / 2);
    rope.freq_factors.resize(static_cast<size_t>(n));
    dequantize(freqs->type, freqs->data, rope.freq_factors.data(), n);
    for (float f : rope.freq_factors)
      if (!(f > 0) || !std::isfinite(f))
        fail_file(
            file.path,
            "tensor 'rope_freqs.weight' holds an invalid factor {} (must be positive and finite)",
            f);
  }

  if (keys.find("tokenizer.ggml.model")) model.vocab = to_vocabulary(file);
  validate(model);
  return model;
}

}  // namespace gguf

Model load_gguf(const std::string& path) {
  return gguf::to_model(gguf::read(path));
}

tokenize::Vocabulary load_gguf_vocabulary(const std::string& path) {
  return gguf::to_vocabulary(gguf::read(path));
}

}  // namespace etch::import
