// LoRA adapters: the GGUF LoRA reader and the validation and assembly both formats share.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unordered_map>

#include "core/error.hpp"
#include "import/adapter_reader.hpp"
#include "import/gguf.hpp"
#include "import/import.hpp"

namespace etch::import {

namespace {

using detail::StoredAdapter;

// The largest rank accepted: `etch plan --lora-rank`'s bound.
constexpr int64_t kMaxRank = 65536;

StoredAdapter read_gguf_adapter(const std::string& path, const ModelConfig& base) {
  gguf::File file = gguf::read(path);
  const gguf::Value* type = file.find("general.type");
  if (type == nullptr || type->type != gguf::ValueType::kString || type->string != "adapter")
    fail_file(path, "is a GGUF model, not an adapter (general.type is not \"adapter\")");
  if (const gguf::Value* kind = file.find("adapter.type");
      kind != nullptr && (kind->type != gguf::ValueType::kString || kind->string != "lora"))
    fail_file(path, "adapter.type is not \"lora\"; only LoRA adapters are supported");
  if (const gguf::Value* arch = file.find("general.architecture");
      arch != nullptr && arch->type == gguf::ValueType::kString &&
      arch->string != base.architecture)
    fail_file(path, "is an adapter for architecture '{}', the base model is '{}'", arch->string,
              base.architecture);
  StoredAdapter adapter;
  adapter.source = path;
  adapter.format = "gguf";
  // llama.cpp's converter permutes the q and k rows of B as it permutes the base weights.
  adapter.layout = RopeLayout::kInterleaved;
  if (const gguf::Value* alpha = file.find("adapter.lora.alpha")) {
    if (!alpha->is_float() && !alpha->is_integer())
      fail_file(path, "adapter.lora.alpha is {}, expected a number",
                gguf::value_type_name(alpha->type));
    adapter.alpha = alpha->is_float() ? alpha->real : static_cast<double>(alpha->integer);
    if (!std::isfinite(adapter.alpha))
      fail_file(path, "adapter.lora.alpha is {}, expected a finite number", adapter.alpha);
  }
  for (const gguf::TensorInfo& info : file.tensors) {
    std::string_view name = info.name;
    bool is_b = false;
    if (name.ends_with(".lora_a")) {
      name.remove_suffix(7);
    } else if (name.ends_with(".lora_b")) {
      name.remove_suffix(7);
      is_b = true;
    } else {
      fail_file(path, "tensor '{}' is not a LoRA A or B matrix (.lora_a / .lora_b)", info.name);
    }
    adapter.tensors.push_back({std::string(name), is_b, info.to_tensor()});
  }
  adapter.files.push_back(file.mapping);
  return adapter;
}

// Moves the rows of B (rows x rank) between the two RoPE layouts, head by head: row
// h*d + half*d/2 + i of the half-split layout is row h*d + 2i + half of the interleaved one.
void permute_rope_rows(std::vector<float>& b, int64_t heads, int64_t head_dim, int64_t rank,
                       RopeLayout to) {
  std::vector<float> out(b.size());
  const int64_t pairs = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t half = 0; half < 2; ++half)
      for (int64_t i = 0; i < pairs; ++i) {
        const int64_t split = h * head_dim + half * pairs + i,
                      interleaved = h * head_dim + 2 * i + half;
        const int64_t from = to == RopeLayout::kInterleaved ? split : interleaved;
        const int64_t into = to == RopeLayout::kInterleaved ? interleaved : split;
        std::copy_n(b.begin() + from * rank, rank, out.begin() + into * rank);
      }
  b = std::move(out);
}

std::vector<float> finite_floats(const Tensor& t, const std::string& source) {
  std::vector<float> out(static_cast<size_t>(t.elements()));
  for (int64_t r = 0; r < t.rows(); ++r) t.dequantize_row(r, out.data() + r * t.cols());
  for (float v : out)
    if (!std::isfinite(v)) fail_file(source, "tensor '{}' holds a NaN or an infinity", t.name);
  return out;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace

const AdapterMatrix* Adapter::find(Role role, int64_t layer) const {
  for (const AdapterMatrix& m : matrices)
    if (m.role == role && m.layer == layer) return &m;
  return nullptr;
}

int64_t Adapter::parameters() const {
  int64_t n = 0;
  for (const AdapterMatrix& m : matrices) n += m.rank * (m.rows + m.cols);
  return n;
}

Adapter load_adapter(const std::string& path, const ModelConfig& base) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail_file(path, "no such adapter file or folder");
  const bool peft = fs::is_directory(path, ec) || path.ends_with(".safetensors");
  StoredAdapter stored = peft ? detail::read_peft_adapter(path) : read_gguf_adapter(path, base);
  const std::string& source = stored.source;

  // Each format's name of every matrix an adapter may target.
  struct Target {
    Role role;
    int64_t layer;
  };
  std::unordered_map<std::string, Target> targets;
  for (int64_t l = 0; l < base.layers; ++l)
    for (Role role : kLayerMatrices)
      targets.emplace(peft ? huggingface_name(role, l) : gguf_name(role, l), Target{role, l});

  struct Pair {
    const Tensor* a = nullptr;
    const Tensor* b = nullptr;
  };
  std::vector<Pair> pairs(static_cast<size_t>(base.layers) * kLayerMatrices.size());
  auto slot = [&](Target t) -> Pair& {
    const auto role_index =
        std::find(kLayerMatrices.begin(), kLayerMatrices.end(), t.role) - kLayerMatrices.begin();
    return pairs[static_cast<size_t>(t.layer) * kLayerMatrices.size() +
                 static_cast<size_t>(role_index)];
  };
  for (const StoredAdapter::Named& n : stored.tensors) {
    const auto it = targets.find(n.target);
    if (it == targets.end())
      fail_file(source,
                "tensor '{}' adapts '{}', which is not one of the seven projection matrices of "
                "the base model's {} layers",
                n.tensor.name, n.target, base.layers);
    const Tensor*& held = n.is_b ? slot(it->second).b : slot(it->second).a;
    if (held != nullptr) fail_file(source, "tensor '{}' appears twice", n.tensor.name);
    held = &n.tensor;
  }

  Adapter adapter;
  adapter.path = path;
  fs::path named(path);
  if (!named.has_filename()) named = named.parent_path();
  if (peft && !fs::is_directory(path, ec)) named = named.parent_path();
  adapter.name = named.stem().string();
  adapter.format = stored.format;
  adapter.alpha = stored.alpha;
  const int64_t q = base.heads * base.head_dim, kv = base.kv_heads * base.head_dim,
                d = base.hidden_size, f = base.ffn_size;
  for (int64_t l = 0; l < base.layers; ++l)
    for (Role role : kLayerMatrices) {
      const Pair& p = slot({role, l});
      if (p.a == nullptr && p.b == nullptr) continue;
      const std::string target = peft ? huggingface_name(role, l) : gguf_name(role, l);
      if (p.a == nullptr || p.b == nullptr)
        fail_file(source, "'{}' has a LoRA {} matrix but no {} matrix", target, p.a ? "A" : "B",
                  p.a ? "B" : "A");
      AdapterMatrix m;
      m.role = role;
      m.layer = l;
      m.rows = role == Role::kAttnQ                             ? q
               : role == Role::kAttnK || role == Role::kAttnV   ? kv
               : role == Role::kFfnGate || role == Role::kFfnUp ? f
                                                                : d;
      m.cols = role == Role::kAttnOutput ? q : role == Role::kFfnDown ? f : d;
      m.rank = p.a->shape.empty() ? 0 : p.a->shape.front();
      if (m.rank < 1 || m.rank > kMaxRank)
        fail_file(source, "tensor '{}' has rank {}, expected 1 to {}", p.a->name, m.rank, kMaxRank);
      if (stored.rank && m.rank != *stored.rank)
        fail_file(source, "tensor '{}' has rank {} but the adapter's config says r = {}", p.a->name,
                  m.rank, *stored.rank);
      if (p.a->shape != std::vector<int64_t>{m.rank, m.cols} ||
          p.b->shape != std::vector<int64_t>{m.rows, m.rank})
        fail_file(source,
                  "'{}': A is {} and B is {}, but the base matrix ({} x {}) at rank {} needs A "
                  "[{}, {}] and B [{}, {}]",
                  target, shape_text(p.a->shape), shape_text(p.b->shape), m.rows, m.cols, m.rank,
                  m.rank, m.cols, m.rows, m.rank);
      m.a = finite_floats(*p.a, source);
      m.b = finite_floats(*p.b, source);
      if ((role == Role::kAttnQ || role == Role::kAttnK) && stored.layout != base.rope.layout)
        permute_rope_rows(m.b, role == Role::kAttnQ ? base.heads : base.kv_heads, base.head_dim,
                          m.rank, base.rope.layout);
      // llama.cpp applies a GGUF adapter without alpha at its plain scale.
      const double rank = static_cast<double>(m.rank);
      m.scale = stored.alpha == 0 && stored.format == "gguf"
                    ? 1.0f
                    : static_cast<float>(stored.alpha /
                                         (stored.rank_stabilized ? std::sqrt(rank) : rank));
      adapter.matrices.push_back(std::move(m));
    }
  if (adapter.matrices.empty()) fail_file(source, "holds no LoRA matrices");
  return adapter;
}

}  // namespace etch::import
