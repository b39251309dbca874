// Hugging Face model folders: config.json (transformers 4 or 5 style), model.safetensors or a
// sharded model.safetensors.index.json, and a SentencePiece tokenizer.model or a byte-level BPE
// tokenizer.json.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "core/error.hpp"
#include "import/adapter_reader.hpp"
#include "import/import.hpp"
#include "import/safetensors.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::import {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Every size in a config is checked against this before it is used to index or multiply, so
// that a hostile config cannot overflow or allocate; validate() applies the same bound.
constexpr int64_t kMaxDimension = int64_t{1} << 24;

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

json parse_json(std::string_view text, const std::string& name) {
  // Valid files nest a few levels; a deeper one is hostile and would cost recursion later.
  auto limit_depth = [&](int depth, json::parse_event_t, json&) {
    if (depth > 32) fail_file(name, "JSON is nested deeper than 32 levels");
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), limit_depth);
  } catch (const json::exception& e) {
    std::string what = e.what();
    if (const size_t close = what.find("] "); what.starts_with("[json.") && close != what.npos)
      what = what.substr(close + 2);
    fail_file(name, "malformed JSON: {}", what);
  }
}

json read_json(const fs::path& path, uint64_t max_bytes) {
  const MappedFile file(path.string());
  if (file.size() > max_bytes)
    fail_file(path.string(), "{} bytes is too large for this JSON file (limit {})", file.size(),
              max_bytes);
  return parse_json({reinterpret_cast<const char*>(file.data()), file.size()}, path.string());
}

const char* type_name(const json& j) {
  if (j.is_number_float()) return "a fractional number";
  if (j.is_number()) return "an integer";
  return j.type_name();
}

// Typed access to one JSON object of a config file; every complaint names the file and key.
class Fields {
 public:
  Fields(std::string path, const json& object, std::string prefix = "")
      : path_(std::move(path)), object_(object), prefix_(std::move(prefix)) {}

  // The value of `key`, or nullptr when absent or null (transformers writes null for unset).
  const json* find(const char* key) const {
    const auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::optional<int64_t> integer(const char* key) const {
    const json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t{INT64_MAX})
      fail_file(path_, "{}{} is out of range", prefix_, key);
    if (!v->is_number_integer())
      fail_file(path_, "{}{} is {}, expected an integer", prefix_, key, type_name(*v));
    return v->get<int64_t>();
  }

  int64_t dimension(const char* key) const {
    const std::optional<int64_t> v = integer(key);
    if (!v) fail_file(path_, "missing {}{}", prefix_, key);
    check_dimension(key, *v);
    return *v;
  }

  void check_dimension(const char* key, int64_t v) const {
    if (v <= 0 || v > kMaxDimension)
      fail_file(path_, "{}{} is {}, expected 1 to {}", prefix_, key, v, kMaxDimension);
  }

  std::optional<double> number(const char* key) const {
    const json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number())
      fail_file(path_, "{}{} is {}, expected a number", prefix_, key, type_name(*v));
    return v->get<double>();
  }

  double positive(const char* key, std::optional<double> fallback) const {
    std::optional<double> v = number(key);
    if (!v) v = fallback;
    if (!v) fail_file(path_, "missing {}{}", prefix_, key);
    if (!(*v > 0) || !std::isfinite(*v))
      fail_file(path_, "{}{} is {}, expected a positive number", prefix_, key, *v);
    return *v;
  }

  std::optional<bool> boolean(const char* key) const {
    const json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean())
      fail_file(path_, "{}{} is {}, expected true or false", prefix_, key, type_name(*v));
    return v->get<bool>();
  }

  std::optional<std::string> string(const char* key) const {
    const json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string())
      fail_file(path_, "{}{} is {}, expected a string", prefix_, key, type_name(*v));
    return v->get<std::string>();
  }

  // A token id: an integer, or a list whose first entry is used (Llama 3 lists several EOS).
  std::optional<int64_t> token_id(const char* key) const {
    const json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_array()) {
      if (v->empty()) return std::nullopt;
      if (!(*v)[0].is_number_integer())
        fail_file(path_, "{}{} holds {}, expected integers", prefix_, key, type_name((*v)[0]));
      return (*v)[0].get<int64_t>();
    }
    return integer(key);
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const json& object_;
  std::string prefix_;
};

void check_architecture(const Fields& f) {
  if (const std::optional<std::string> type = f.string("model_type")) {
    if (*type != "llama")
      fail_file(f.path(), "model_type '{}' is not supported (only llama)", *type);
    return;
  }
  const json* arch = f.find("architectures");
  if (arch == nullptr) fail_file(f.path(), "names no model_type or architectures");
  if (!arch->is_array() || arch->empty() || !(*arch)[0].is_string())
    fail_file(f.path(), "architectures must be a list of names");
  const std::string name = (*arch)[0].get<std::string>();
  if (name != "LlamaForCausalLM")
    fail_file(f.path(), "architecture '{}' is not supported (only LlamaForCausalLM)", name);
}

// transformers 5 keeps RoPE settings in rope_parameters (theta included); transformers 4 has
// rope_theta at the top and the scaling rule in rope_scaling (its type key once named "type").
RopeConfig read_rope(const Fields& top, int64_t head_dim) {
  RopeConfig rope;
  rope.layout = RopeLayout::kHalfSplit;  // transformers' rotate_half
  rope.dims = head_dim;
  const json* params = top.find("rope_parameters");
  const char* params_key = "rope_parameters";
  if (params == nullptr) {
    params = top.find("rope_scaling");
    params_key = "rope_scaling";
  }
  if (params != nullptr && !params->is_object())
    fail_file(top.path(), "{} is {}, expected an object", params_key, type_name(*params));
  static const json kEmpty = json::object();
  const Fields scaling(top.path(), params ? *params : kEmpty, std::string(params_key) + ".");

  std::optional<double> theta;
  if (params_key == std::string_view("rope_parameters")) theta = scaling.number("rope_theta");
  if (!theta) theta = top.number("rope_theta");
  rope.theta = theta.value_or(10000.0);
  if (!(rope.theta > 0) || !std::isfinite(rope.theta))
    fail_file(top.path(), "rope_theta is {}, expected a positive number", rope.theta);

  std::optional<std::string> type = scaling.string("rope_type");
  if (!type) type = scaling.string("type");
  const std::string kind = type.value_or("default");
  if (kind == "default") {
    rope.scaling = RopeScaling::kNone;
  } else if (kind == "linear") {
    rope.scaling = RopeScaling::kLinear;
    rope.factor = scaling.positive("factor", std::nullopt);
  } else if (kind == "llama3") {
    rope.scaling = RopeScaling::kLlama3;
    rope.factor = scaling.positive("factor", std::nullopt);
    rope.low_freq_factor = scaling.positive("low_freq_factor", std::nullopt);
    rope.high_freq_factor = scaling.positive("high_freq_factor", std::nullopt);
    if (rope.high_freq_factor <= rope.low_freq_factor)
      fail_file(top.path(), "{}.high_freq_factor must exceed low_freq_factor", params_key);
    rope.original_context = scaling.dimension("original_max_position_embeddings");
  } else {
    fail_file(top.path(), "RoPE type '{}' is not supported (default, linear, llama3 are)", kind);
  }
  return rope;
}

ModelConfig read_config(const std::string& p, const json& config) {
  if (!config.is_object()) fail_file(p, "is {}, expected a JSON object", type_name(config));
  const Fields f(p, config);
  check_architecture(f);

  ModelConfig c;
  c.architecture = "llama";
  c.vocab_size = f.dimension("vocab_size");
  c.hidden_size = f.dimension("hidden_size");
  c.ffn_size = f.dimension("intermediate_size");
  c.layers = f.dimension("num_hidden_layers");
  c.heads = f.dimension("num_attention_heads");
  c.kv_heads = c.heads;
  if (f.find("num_key_value_heads") != nullptr) c.kv_heads = f.dimension("num_key_value_heads");
  if (c.heads % c.kv_heads != 0)
    fail_file(p, "num_attention_heads {} is not a multiple of num_key_value_heads {}", c.heads,
              c.kv_heads);
  if (f.find("head_dim") != nullptr) {
    c.head_dim = f.dimension("head_dim");
  } else {
    if (c.hidden_size % c.heads != 0)
      fail_file(p, "hidden_size {} is not a multiple of num_attention_heads {} (and no head_dim)",
                c.hidden_size, c.heads);
    c.head_dim = c.hidden_size / c.heads;
  }
  if (c.head_dim % 2 != 0) fail_file(p, "head_dim {} is odd, RoPE needs pairs", c.head_dim);
  c.context_length = 2048;  // LlamaConfig's default
  if (f.find("max_position_embeddings") != nullptr)
    c.context_length = f.dimension("max_position_embeddings");
  c.rms_eps = f.positive("rms_norm_eps", 1e-6);
  c.tied_embeddings = f.boolean("tie_word_embeddings").value_or(false);
  c.qkv_bias = f.boolean("attention_bias").value_or(false);
  if (f.boolean("mlp_bias").value_or(false))
    fail_file(p, "mlp_bias is true; feed-forward biases are not supported");
  if (const std::optional<std::string> act = f.string("hidden_act"); act && *act != "silu")
    fail_file(p, "hidden_act '{}' is not supported (only silu)", *act);
  c.rope = read_rope(f, c.head_dim);
  return c;
}

std::string render(const json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

bool safe_shard_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos && name.find('\0') == std::string::npos;
}

struct Weights {
  std::string source;  // the file named when a tensor is missing
  std::vector<safetensors::File> files;
};

Weights read_sharded(const fs::path& dir, const fs::path& index_path) {
  const std::string ip = index_path.string();
  const json index = read_json(index_path, 256u << 20);
  if (!index.is_object()) fail_file(ip, "is {}, expected a JSON object", type_name(index));
  const auto map = index.find("weight_map");
  if (map == index.end()) fail_file(ip, "has no weight_map");
  if (!map->is_object()) fail_file(ip, "weight_map is {}, expected an object", type_name(*map));
  if (map->empty()) fail_file(ip, "weight_map is empty");

  std::map<std::string, std::vector<std::string>> by_shard;  // sorted: a deterministic order
  std::unordered_map<std::string, std::string> shard_of;
  for (const auto& [tensor, shard] : map->items()) {
    if (!shard.is_string())
      fail_file(ip, "weight_map entry '{}' is {}, expected a file name", tensor, type_name(shard));
    const std::string name = shard.get<std::string>();
    if (!safe_shard_name(name))
      fail_file(ip, "shard name '{}' (for tensor '{}') is not a plain file name", name, tensor);
    by_shard[name].push_back(tensor);
    shard_of[tensor] = name;
  }
  for (const auto& [shard, names] : by_shard)
    if (!is_file(dir / shard))
      fail_file(ip, "shard '{}' (holding '{}') is missing", shard, names.front());

  Weights w;
  w.source = ip;
  for (const auto& [shard, names] : by_shard) {
    safetensors::File file = safetensors::open((dir / shard).string());
    std::set<std::string_view> held;
    for (const Tensor& t : file.tensors) {
      const auto it = shard_of.find(t.name);
      if (it == shard_of.end())
        fail_file(file.mapping->path(), "holds tensor '{}', which {} does not list", t.name,
                  index_path.filename().string());
      if (it->second != shard)
        fail_file(file.mapping->path(), "holds tensor '{}', which {} maps to shard '{}'", t.name,
                  index_path.filename().string(), it->second);
      held.insert(t.name);
    }
    for (const std::string& name : names)
      if (!held.contains(name))
        fail_file(ip, "maps tensor '{}' to shard '{}', which does not hold it", name, shard);
    w.files.push_back(std::move(file));
  }
  return w;
}

Weights read_weights(const fs::path& dir) {
  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  if (is_file(single)) {
    Weights w;
    w.source = single.string();
    w.files.push_back(safetensors::open(single.string()));
    return w;
  }
  if (is_file(index)) return read_sharded(dir, index);
  if (is_file(dir / "pytorch_model.bin") || is_file(dir / "pytorch_model.bin.index.json"))
    fail_file(dir.string(),
              "has only PyTorch .bin weights; convert them to safetensors (model.safetensors)");
  fail_file(dir.string(), "has no model.safetensors or model.safetensors.index.json");
}

tokenize::Vocabulary read_tokenizer(const fs::path& dir, const Fields& config, int64_t vocab_size) {
  const fs::path model_file = dir / "tokenizer.model";
  const fs::path json_file = dir / "tokenizer.json";
  tokenize::Vocabulary vocab;
  // tokenizer.model wins where both exist: it is the SentencePiece original that a
  // tokenizer.json beside it was converted from.
  if (is_file(model_file)) {
    vocab = tokenize::load_sentencepiece_model(model_file.string());
  } else if (is_file(json_file)) {
    vocab = tokenize::load_tokenizer_json(json_file.string());
  } else {
    return {};  // weights only: usable with token ids, no text
  }

  const fs::path tc_path = dir / "tokenizer_config.json";
  if (is_file(tc_path)) {
    const json tc = read_json(tc_path, 64u << 20);
    if (!tc.is_object())
      fail_file(tc_path.string(), "is {}, expected a JSON object", type_name(tc));
    const Fields tf(tc_path.string(), tc);
    if (const std::optional<bool> v = tf.boolean("add_bos_token")) vocab.add_bos = *v;
    if (const std::optional<bool> v = tf.boolean("add_eos_token")) vocab.add_eos = *v;
    // The chat template: one string, or a list of named templates of which "default" is the
    // one transformers uses.
    if (const auto it = tc.find("chat_template"); it != tc.end()) {
      if (it->is_string()) {
        vocab.chat_template = it->get<std::string>();
      } else if (it->is_array()) {
        for (const json& t : *it) {
          if (t.is_object() && t.contains("name") && t["name"] == "default" &&
              t.contains("template") && t["template"].is_string())
            vocab.chat_template = t["template"].get<std::string>();
        }
      }
    }
  }
  // The model config's ids are what transformers generates with; they win over the
  // tokenizer's own defaults.
  auto id = [&](const char* key, int32_t& target) {
    const std::optional<int64_t> v = config.token_id(key);
    if (!v) return;
    if (*v < 0 || *v >= vocab_size)
      fail_file(config.path(), "{} {} is outside the vocabulary", key, *v);
    target = static_cast<int32_t>(*v);
  };
  id("bos_token_id", vocab.bos_id);
  id("eos_token_id", vocab.eos_id);
  id("pad_token_id", vocab.pad_id);
  tokenize::fill_end_of_generation(vocab);
  return vocab;
}

// The layer index of "model.layers.N.…", or -1.
int64_t layer_of(std::string_view name) {
  constexpr std::string_view kPrefix = "model.layers.";
  if (!name.starts_with(kPrefix)) return -1;
  name.remove_prefix(kPrefix.size());
  int64_t n = 0;
  size_t i = 0;
  for (; i < name.size() && i < 12 && name[i] >= '0' && name[i] <= '9'; ++i)
    n = n * 10 + (name[i] - '0');
  return i == 0 ? -1 : n;
}

}  // namespace

ModelConfig parse_huggingface_config(std::string_view text, const std::string& name) {
  return read_config(name, parse_json(text, name));
}

Model load_huggingface(const std::string& directory) {
  const fs::path dir(directory);
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail_file(directory, "no such folder");
  if (!fs::is_directory(dir, ec)) fail_file(directory, "is not a folder");
  const fs::path config_path = dir / "config.json";
  if (!is_file(config_path)) fail_file(directory, "has no config.json: not a Hugging Face model");

  Model model;
  model.path = directory;
  model.format = "huggingface";
  const json config = read_json(config_path, 16u << 20);
  model.config = read_config(config_path.string(), config);
  for (const auto& [key, value] : config.items()) model.metadata.emplace_back(key, render(value));

  Weights weights = read_weights(dir);
  std::unordered_map<std::string, size_t> index;
  for (safetensors::File& file : weights.files) {
    for (const auto& [key, value] : file.header.metadata)
      model.metadata.emplace_back("safetensors." + key, value);
    for (Tensor& t : file.tensors) {
      if (!index.emplace(t.name, model.tensors.size()).second)
        fail_file(file.mapping->path(), "tensor '{}' appears in more than one shard", t.name);
      model.tensors.push_back(std::move(t));
    }
    model.files.push_back(file.mapping);
  }

  const ModelConfig& c = model.config;
  std::vector<bool> used(model.tensors.size(), false);
  auto find = [&](const std::string& name) -> const Tensor* {
    const auto it = index.find(name);
    if (it == index.end()) return nullptr;
    used[it->second] = true;
    return &model.tensors[it->second];
  };
  auto get = [&](const std::string& name) -> Tensor {
    const Tensor* t = find(name);
    if (t == nullptr) fail_file(weights.source, "tensor '{}' is missing", name);
    return *t;
  };

  for (const Tensor& t : model.tensors)
    if (const int64_t layer = layer_of(t.name); layer >= c.layers)
      fail_file(weights.source, "tensor '{}' is for layer {} but config.json has {} layers", t.name,
                layer, c.layers);

  const std::string head_name = huggingface_name(Role::kOutput);
  model.token_embedding = get(huggingface_name(Role::kTokenEmbedding));
  model.output_norm = get(huggingface_name(Role::kOutputNorm));
  const Tensor* head = c.tied_embeddings ? nullptr : find(head_name);
  if (head != nullptr) {
    model.output = *head;
  } else {
    model.output = model.token_embedding;
    model.config.tied_embeddings = true;
  }
  if (c.tied_embeddings) find(head_name);  // a tied copy some writers keep is unused

  model.layers.reserve(static_cast<size_t>(c.layers));
  for (int64_t i = 0; i < c.layers; ++i) {
    auto role = [&](Role r) { return get(huggingface_name(r, i)); };
    LayerWeights l;
    l.attn_norm = role(Role::kAttnNorm);
    l.wq = role(Role::kAttnQ);
    l.wk = role(Role::kAttnK);
    l.wv = role(Role::kAttnV);
    l.wo = role(Role::kAttnOutput);
    if (c.qkv_bias) {
      l.bq = role(Role::kAttnQBias);
      l.bk = role(Role::kAttnKBias);
      l.bv = role(Role::kAttnVBias);
      l.bo = role(Role::kAttnOutputBias);
    }
    l.ffn_norm = role(Role::kFfnNorm);
    l.w_gate = role(Role::kFfnGate);
    l.w_up = role(Role::kFfnUp);
    l.w_down = role(Role::kFfnDown);
    model.layers.push_back(std::move(l));
  }
  // A bias the engines would not apply changes every output: refuse rather than ignore it.
  for (size_t i = 0; i < model.tensors.size(); ++i)
    if (!used[i] && model.tensors[i].name.ends_with(".bias"))
      fail_file(weights.source, "tensor '{}' is a bias etch does not support",
                model.tensors[i].name);

  model.vocab = read_tokenizer(dir, Fields(config_path.string(), config), c.vocab_size);
  validate(model);
  return model;
}

namespace detail {

StoredAdapter read_peft_adapter(const std::string& path) {
  std::error_code ec;
  const fs::path given(path);
  const fs::path dir = fs::is_directory(given, ec) ? given : given.parent_path();
  const fs::path config_path = dir / "adapter_config.json";
  const fs::path weights_path =
      fs::is_directory(given, ec) ? dir / "adapter_model.safetensors" : given;
  if (!is_file(config_path))
    fail_file(path, "has no adapter_config.json beside it: not a PEFT adapter");
  if (!is_file(weights_path))
    fail_file(path, "has no adapter_model.safetensors (etch reads PEFT adapters in safetensors)");

  const json config = read_json(config_path, 1u << 20);
  if (!config.is_object()) fail_file(config_path.string(), "is not a JSON object");
  const Fields f(config_path.string(), config);
  if (const auto type = f.string("peft_type"); type && *type != "LORA")
    fail_file(config_path.string(), "peft_type '{}' is not supported (only LORA)", *type);
  StoredAdapter adapter;
  adapter.source = weights_path.string();
  adapter.format = "peft";
  adapter.layout = RopeLayout::kHalfSplit;
  adapter.rank = f.dimension("r");
  adapter.alpha = f.number("lora_alpha").value_or(8.0);  // PEFT's default
  if (!std::isfinite(adapter.alpha))
    fail_file(config_path.string(), "lora_alpha is {}, expected a finite number", adapter.alpha);
  adapter.rank_stabilized = f.boolean("use_rslora").value_or(false);
  // Variants whose arithmetic is not W + scale * B A are refused rather than misapplied.
  if (f.boolean("use_dora").value_or(false))
    fail_file(config_path.string(), "use_dora is true: DoRA adapters are not supported");
  if (f.boolean("fan_in_fan_out").value_or(false))
    fail_file(config_path.string(), "fan_in_fan_out is true: only Linear (not Conv1D) adapters");
  for (const char* key : {"rank_pattern", "alpha_pattern"})
    if (const json* v = f.find(key); v != nullptr && !(v->is_object() && v->empty()))
      fail_file(config_path.string(), "{} is set: per-matrix ranks are not supported", key);
  if (const auto bias = f.string("bias"); bias && *bias != "none")
    fail_file(config_path.string(), "bias is '{}': adapters that train biases are not supported",
              *bias);

  safetensors::File file = safetensors::open(adapter.source);
  for (Tensor& t : file.tensors) {
    std::string_view name = t.name;
    if (name.starts_with("base_model.model.")) name.remove_prefix(17);
    bool is_b = false;
    if (name.ends_with(".lora_A.weight")) {
      name.remove_suffix(14);
    } else if (name.ends_with(".lora_B.weight")) {
      name.remove_suffix(14);
      is_b = true;
    } else {
      fail_file(adapter.source, "tensor '{}' is not a LoRA A or B matrix", t.name);
    }
    adapter.tensors.push_back({std::string(name) + ".weight", is_b, t});
  }
  adapter.files.push_back(file.mapping);
  return adapter;
}

}  // namespace detail

}  // namespace etch::import
