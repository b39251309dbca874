#include <sys/stat.h>

#include <atomic>
#include <cmath>
#include <numbers>
#include <vector>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "import/import.hpp"

namespace etch::import {

int64_t Tensor::rows() const {
  int64_t r = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) r *= shape[i];
  return r;
}

int64_t Tensor::elements() const {
  return rows() * cols();
}

uint64_t Tensor::row_bytes() const {
  const TypeTraits& t = type_traits(type);
  return static_cast<uint64_t>(cols() / t.block_elements * t.block_bytes);
}

void Tensor::dequantize_row(int64_t r, float* dst) const {
  dequantize(type, row(r), dst, cols());
}

std::vector<double> rope_inverse_frequencies(const RopeConfig& rope) {
  const int64_t pairs = rope.dims / 2;
  std::vector<double> inv(static_cast<size_t>(pairs));
  for (int64_t i = 0; i < pairs; ++i) {
    double f = std::pow(rope.theta, -2.0 * static_cast<double>(i) / static_cast<double>(rope.dims));
    if (!rope.freq_factors.empty()) {
      f /= rope.freq_factors[static_cast<size_t>(i)];
    } else if (rope.scaling == RopeScaling::kLinear) {
      f /= rope.factor;
    } else if (rope.scaling == RopeScaling::kLlama3) {
      // Llama 3.1's rule: long wavelengths are slowed by `factor`, short ones are kept, and
      // the band between is interpolated.
      const double wavelength = 2.0 * std::numbers::pi / f;
      const double original = static_cast<double>(rope.original_context);
      const double low_wavelength = original / rope.low_freq_factor;
      const double high_wavelength = original / rope.high_freq_factor;
      if (wavelength > low_wavelength) {
        f /= rope.factor;
      } else if (wavelength >= high_wavelength) {
        const double smooth = (original / wavelength - rope.low_freq_factor) /
                              (rope.high_freq_factor - rope.low_freq_factor);
        f = (1.0 - smooth) * f / rope.factor + smooth * f;
      }
    }
    inv[static_cast<size_t>(i)] = static_cast<float>(f);
  }
  return inv;
}

Model load_model(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail_file(path, "no such file or folder");
  if (S_ISDIR(st.st_mode)) return load_huggingface(path);
  return load_gguf(path);
}

namespace {

void expect_shape(const Model& model, const Tensor& t, std::vector<int64_t> shape) {
  if (t.data == nullptr) fail_file(model.path, "tensor '{}' is missing", t.name);
  if (t.shape != shape) {
    auto render = [](const std::vector<int64_t>& s) {
      std::string out = "[";
      for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
      return out + "]";
    };
    fail_file(model.path, "tensor '{}' has shape {} but the config implies {}", t.name,
              render(t.shape), render(shape));
  }
}

}  // namespace

void validate(const Model& model) {
  const ModelConfig& c = model.config;
  auto positive = [&](int64_t v, const char* what) {
    if (v <= 0 || v > (int64_t{1} << 24)) fail_file(model.path, "implausible {}: {}", what, v);
  };
  positive(c.vocab_size, "vocabulary size");
  positive(c.hidden_size, "hidden size");
  positive(c.layers, "layer count");
  positive(c.heads, "head count");
  positive(c.kv_heads, "key/value head count");
  positive(c.head_dim, "head dimension");
  positive(c.ffn_size, "feed-forward size");
  if (c.heads % c.kv_heads != 0)
    fail_file(model.path, "{} heads cannot be shared by {} key/value heads", c.heads, c.kv_heads);
  if (c.rope.dims <= 0 || c.rope.dims > c.head_dim || c.rope.dims % 2 != 0)
    fail_file(model.path, "RoPE dimension count {} does not suit head dimension {}", c.rope.dims,
              c.head_dim);
  if (!c.rope.freq_factors.empty() &&
      static_cast<int64_t>(c.rope.freq_factors.size()) != c.rope.dims / 2)
    fail_file(model.path, "rope_freqs has {} entries, expected {}", c.rope.freq_factors.size(),
              c.rope.dims / 2);
  if (!(c.rms_eps > 0) || !(c.rope.theta > 0))
    fail_file(model.path, "RMS epsilon and RoPE base must be positive");
  if (static_cast<int64_t>(model.layers.size()) != c.layers)
    fail_file(model.path, "config says {} layers but {} were found", c.layers, model.layers.size());
  // A padded vocabulary (more embedding rows than tokens, for tidy matrix shapes) is fine: the
  // rows past the tokens are never fed and never sampled.
  if (model.vocab.size() > c.vocab_size)
    fail_file(model.path, "tokenizer has {} tokens but the embedding has only {} rows",
              model.vocab.size(), c.vocab_size);

  const int64_t d = c.hidden_size, q = c.heads * c.head_dim, kv = c.kv_heads * c.head_dim;
  expect_shape(model, model.token_embedding, {c.vocab_size, d});
  expect_shape(model, model.output_norm, {d});
  expect_shape(model, model.output, {c.vocab_size, d});
  for (const LayerWeights& l : model.layers) {
    expect_shape(model, l.attn_norm, {d});
    expect_shape(model, l.wq, {q, d});
    expect_shape(model, l.wk, {kv, d});
    expect_shape(model, l.wv, {kv, d});
    expect_shape(model, l.wo, {d, q});
    if (l.bq) expect_shape(model, *l.bq, {q});
    if (l.bk) expect_shape(model, *l.bk, {kv});
    if (l.bv) expect_shape(model, *l.bv, {kv});
    if (l.bo) expect_shape(model, *l.bo, {d});
    expect_shape(model, l.ffn_norm, {d});
    expect_shape(model, l.w_gate, {c.ffn_size, d});
    expect_shape(model, l.w_up, {c.ffn_size, d});
    expect_shape(model, l.w_down, {d, c.ffn_size});
  }
  // Norms and biases are read as float vectors by every engine.
  auto plain = [&](const Tensor& t) {
    if (t.type != TensorType::kF32 && t.type != TensorType::kF16 && t.type != TensorType::kBF16)
      fail_file(model.path, "tensor '{}' is {}, expected a float type", t.name,
                type_traits(t.type).name);
  };
  plain(model.output_norm);
  const bool o_bias = !model.layers.empty() && model.layers.front().bo.has_value();
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const LayerWeights& l = model.layers[i];
    plain(l.attn_norm);
    plain(l.ffn_norm);
    // The engines add each bias kind to every layer or to none.
    if (l.bq.has_value() != c.qkv_bias || l.bk.has_value() != c.qkv_bias ||
        l.bv.has_value() != c.qkv_bias)
      fail_file(model.path, "layer {} has {} of the q, k and v biases; expected {}", i,
                l.bq.has_value() + l.bk.has_value() + l.bv.has_value(), c.qkv_bias ? 3 : 0);
    if (l.bo.has_value() != o_bias)
      fail_file(model.path, "layer {} {} an output projection bias, layer 0 {}", i,
                l.bo ? "has" : "lacks", o_bias ? "has one" : "does not");
    for (const auto& bias : {l.bq, l.bk, l.bv, l.bo})
      if (bias) plain(*bias);
  }
}

void check_finite(const Model& model, int threads) {
  ThreadPool pool(threads > 0 ? threads : ThreadPool::default_threads());
  for (const Tensor& t : model.tensors) {
    std::atomic<int64_t> bad_row{-1};
    pool.parallel_for(t.rows(), [&](int64_t begin, int64_t end) {
      std::vector<float> row(static_cast<size_t>(t.cols()));
      for (int64_t r = begin; r < end && bad_row.load(std::memory_order_relaxed) < 0; ++r) {
        t.dequantize_row(r, row.data());
        for (float v : row)
          if (!std::isfinite(v)) {
            bad_row.store(r);
            return;
          }
      }
    });
    if (bad_row.load() >= 0)
      fail_file(model.path, "tensor {} holds a NaN or an infinity (row {}); refusing to use it",
                t.name, bad_row.load());
  }
}

}  // namespace etch::import
