// Built-in model shapes, as their publishers' config.json files give them.
#include <fmt/format.h>

#include "core/error.hpp"
#include "import/import.hpp"
#include "plan/plan.hpp"

namespace etch::plan {

int64_t ModelShape::attention_params() const {
  const int64_t q = hidden * heads * head_dim;
  const int64_t kv = 2 * hidden * kv_heads * head_dim;
  return q + kv + heads * head_dim * hidden;
}

int64_t ModelShape::ffn_params() const {
  const int64_t router = experts > 1 ? hidden * experts : 0;
  return experts * 3 * hidden * ffn + router;
}

int64_t ModelShape::active_ffn_params() const {
  const int64_t router = experts > 1 ? hidden * experts : 0;
  return active_experts * 3 * hidden * ffn + router;
}

int64_t ModelShape::embedding_params() const {
  return vocab * hidden;
}
int64_t ModelShape::head_params() const {
  return tied_embeddings ? 0 : vocab * hidden;
}

int64_t ModelShape::total_params() const {
  return embedding_params() + head_params() + layers * (attention_params() + ffn_params());
}

int64_t ModelShape::active_params() const {
  return vocab * hidden + layers * (attention_params() + active_ffn_params());
}

const std::vector<ModelShape>& presets() {
  // name, vocab, hidden, layers, heads, kv_heads, head_dim, ffn, experts, active, tied,
  // qkv_bias, max_context
  static const std::vector<ModelShape> shapes = {
      {"llama-3.1-8b", 128256, 4096, 32, 32, 8, 128, 14336, 1, 1, false, false, 131072},
      {"llama-3.2-1b", 128256, 2048, 16, 32, 8, 64, 8192, 1, 1, true, false, 131072},
      {"llama-3.2-3b", 128256, 3072, 28, 24, 8, 128, 8192, 1, 1, true, false, 131072},
      {"llama-3.1-70b", 128256, 8192, 80, 64, 8, 128, 28672, 1, 1, false, false, 131072},
      {"llama-3.1-405b", 128256, 16384, 126, 128, 8, 128, 53248, 1, 1, false, false, 131072},
      {"mistral-7b", 32000, 4096, 32, 32, 8, 128, 14336, 1, 1, false, false, 32768},
      {"qwen2.5-7b", 152064, 3584, 28, 28, 4, 128, 18944, 1, 1, false, true, 32768},
      {"smollm2-135m", 49152, 576, 30, 9, 3, 64, 1536, 1, 1, true, false, 8192},
      {"smollm2-1.7b", 49152, 2048, 24, 32, 32, 64, 8192, 1, 1, true, false, 8192},
      {"tinyllama-1.1b", 32000, 2048, 22, 32, 4, 64, 5632, 1, 1, false, false, 2048},
      // A mixture-of-experts shape for the published metal-embedded gpt-oss design; its
      // alternating sliding-window attention is planned as full attention.
      {"gpt-oss-120b", 201088, 2880, 36, 64, 8, 64, 2880, 128, 4, false, true, 131072},
  };
  return shapes;
}

const ModelShape& find_preset(std::string_view name) {
  for (const auto& shape : presets())
    if (shape.name == name) return shape;
  std::string known;
  for (const auto& shape : presets()) known += (known.empty() ? "" : ", ") + shape.name;
  fail("unknown preset '{}' (known: {})", name, known);
}

ModelShape shape_from_config(const import::ModelConfig& config, std::string name) {
  ModelShape shape;
  shape.name = std::move(name);
  shape.vocab = config.vocab_size;
  shape.hidden = config.hidden_size;
  shape.layers = config.layers;
  shape.heads = config.heads;
  shape.kv_heads = config.kv_heads;
  shape.head_dim = config.head_dim;
  shape.ffn = config.ffn_size;
  shape.tied_embeddings = config.tied_embeddings;
  shape.qkv_bias = config.qkv_bias;
  shape.max_context = config.context_length;
  if (shape.vocab <= 0 || shape.hidden <= 0 || shape.layers <= 0 || shape.heads <= 0 ||
      shape.kv_heads <= 0 || shape.head_dim <= 0 || shape.ffn <= 0)
    fail("{}: the model's config has a non-positive dimension", shape.name);
  return shape;
}

}  // namespace etch::plan
