#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "run/kernels.hpp"
#include "run/micro_batch.hpp"
#include "run/run.hpp"

namespace etch::run {

namespace {

using import::Tensor;

// A step's tokens, of whichever sequences, are processed in micro-batches so that scratch
// memory stays bounded however long the step is, while each weight row is still reused for
// many tokens.
constexpr int64_t kMicroBatch = 64;

std::vector<float> to_floats(const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.elements()));
  for (int64_t r = 0; r < t.rows(); ++r) t.dequantize_row(r, out.data() + r * t.cols());
  return out;
}

struct LayerVectors {
  std::vector<float> attn_norm, ffn_norm, bq, bk, bv, bo;
};

}  // namespace

struct FloatEngine::State {
  const import::Model& model;
  const import::ModelConfig& config;
  ThreadPool pool;
  InputObserver observer;
  SequenceSlots slots;
  std::vector<AdapterUse> adapters;

  std::vector<LayerVectors> layers;
  std::vector<float> output_norm;
  std::vector<double> inv_freq;

  int64_t q_dim, kv_dim;
  std::vector<float> k_cache, v_cache;  // [slots.cache_row(...)][kv_dim]

  // Scratch for one micro-batch.
  std::vector<float> x, xn, q, k, v, att, gate, up, rope_cos, rope_sin;

  State(const import::Model& m, EngineOptions options, InputObserver input_observer)
      : model(m),
        config(m.config),
        pool(options.threads > 0 ? options.threads : ThreadPool::default_threads()),
        observer(std::move(input_observer)),
        slots(
            options.sequences,
            options.context > 0
                ? options.context
                : std::min<int64_t>(config.context_length > 0 ? config.context_length : 4096, 4096),
            config.layers, config.vocab_size),
        adapters(std::move(options.adapters)) {
    std::vector<float> scales;
    for (const AdapterUse& use : adapters) {
      for (const import::AdapterMatrix& am : use.adapter->matrices) {
        const Tensor& w = m.layers.at(static_cast<size_t>(am.layer)).matrix(am.role);
        if (am.rows != w.rows() || am.cols != w.cols())
          fail_file(use.adapter->path, "does not fit {}: '{}' is {} x {}, the adapter's {} x {}",
                    m.path, w.name, w.rows(), w.cols(), am.rows, am.cols);
      }
      scales.push_back(use.scale);
    }
    slots.set_default_adapter_scales(scales);
    q_dim = config.heads * config.head_dim;
    kv_dim = config.kv_heads * config.head_dim;
    for (const auto& l : m.layers) {
      LayerVectors v;
      v.attn_norm = to_floats(l.attn_norm);
      v.ffn_norm = to_floats(l.ffn_norm);
      if (l.bq) v.bq = to_floats(*l.bq);
      if (l.bk) v.bk = to_floats(*l.bk);
      if (l.bv) v.bv = to_floats(*l.bv);
      if (l.bo) v.bo = to_floats(*l.bo);
      layers.push_back(std::move(v));
    }
    output_norm = to_floats(m.output_norm);
    inv_freq = import::rope_inverse_frequencies(config.rope);
    const auto cache = static_cast<size_t>(slots.cache_rows() * kv_dim);
    k_cache.assign(cache, 0.0f);
    v_cache.assign(cache, 0.0f);
    const auto d = static_cast<size_t>(config.hidden_size);
    const auto b = static_cast<size_t>(kMicroBatch);
    x.resize(b * d);
    xn.resize(b * d);
    q.resize(b * static_cast<size_t>(q_dim));
    att.resize(b * static_cast<size_t>(q_dim));
    k.resize(b * static_cast<size_t>(kv_dim));
    v.resize(b * static_cast<size_t>(kv_dim));
    gate.resize(b * static_cast<size_t>(config.ffn_size));
    up.resize(b * static_cast<size_t>(config.ffn_size));
    rope_cos.resize(b * inv_freq.size());
    rope_sin.resize(b * inv_freq.size());
  }

  void observe(const std::string& input, const float* rows, int64_t count, int64_t width) const {
    if (observer) observer(input, rows, count, width);
  }

  struct MatmulJob {
    const Tensor* weight;
    float* out;  // [tokens, weight->rows()]
  };

  // out[t, r] = dot(weight row r, in[t]) for every job, all jobs sharing one parallel loop.
  // Rows are dequantized once, four at a time, and multiplied with two tokens at a time so
  // that each weight load feeds two products.
  void matmul(std::initializer_list<MatmulJob> jobs, const float* in, int64_t tokens) {
    constexpr int64_t kBlock = 4;
    int64_t blocks = 0;
    for (const auto& j : jobs) blocks += (j.weight->rows() + kBlock - 1) / kBlock;
    pool.parallel_for(blocks, [&](int64_t begin, int64_t end) {
      thread_local std::vector<float> row_buffer;
      int64_t base = 0;
      for (const auto& job : jobs) {
        const Tensor& w = *job.weight;
        const int64_t rows = w.rows(), cols = w.cols();
        const int64_t job_blocks = (rows + kBlock - 1) / kBlock;
        const int64_t lo = std::max(begin, base) - base,
                      hi = std::min(end, base + job_blocks) - base;
        base += job_blocks;
        if (lo >= hi) continue;
        if (row_buffer.size() < static_cast<size_t>(kBlock * cols))
          row_buffer.resize(static_cast<size_t>(kBlock * cols));
        for (int64_t b = lo; b < hi; ++b) {
          const int64_t r0 = b * kBlock, nr = std::min(kBlock, rows - r0);
          // F32 rows are read in place; other types are decoded to floats once per block, so
          // that each decoded row serves every token of the micro-batch.
          const float* row[kBlock];
          for (int64_t k = 0; k < nr; ++k) {
            if (w.type == import::TensorType::kF32) {
              row[k] = reinterpret_cast<const float*>(w.row(r0 + k));
            } else {
              w.dequantize_row(r0 + k, row_buffer.data() + k * cols);
              row[k] = row_buffer.data() + k * cols;
            }
          }
          // Four rows by two tokens, then the leftovers; every output sums identically.
          const int row_step = nr == kBlock ? static_cast<int>(kBlock) : 1;
          for (int64_t k = 0; k < nr; k += row_step) {
            for (int64_t t = 0; t < tokens; t += 2) {
              const int token_count = t + 1 < tokens ? 2 : 1;
              const float* x[2] = {in + t * cols, in + (t + token_count - 1) * cols};
              float out[kBlock * 2];
              kernels::dot_block(row + k, row_step, x, token_count, cols, out);
              for (int r = 0; r < row_step; ++r)
                for (int u = 0; u < token_count; ++u)
                  job.out[(t + u) * rows + r0 + k + r] = out[r * token_count + u];
            }
          }
        }
      }
    });
  }

  // The adapters' low-rank updates of one matrix product, in float32: out[t] += scale *
  // B (A in[t]) for each adapter of (role, layer) whose scale for the token's sequence is not 0
  // (so that scale 0 leaves the base model's output untouched, bit for bit).
  void adapt(import::Role role, int64_t layer, const float* in, float* out,
             std::span<const StepToken> tokens) {
    for (size_t i = 0; i < adapters.size(); ++i) {
      const import::AdapterMatrix* m = adapters[i].adapter->find(role, layer);
      if (m == nullptr) continue;
      const int64_t rows = m->rows, cols = m->cols, rank = m->rank;
      pool.parallel_for(static_cast<int64_t>(tokens.size()), [&](int64_t begin, int64_t end) {
        thread_local std::vector<float> down;
        down.resize(static_cast<size_t>(rank));
        for (int64_t t = begin; t < end; ++t) {
          const float scale =
              slots.adapter_scales(tokens[static_cast<size_t>(t)].sequence)[i] * m->scale;
          if (scale == 0.0f) continue;
          for (int64_t k = 0; k < rank; ++k)
            down[static_cast<size_t>(k)] =
                kernels::dot(m->a.data() + k * cols, in + t * cols, cols);
          for (int64_t r = 0; r < rows; ++r)
            out[t * rows + r] += scale * kernels::dot(m->b.data() + r * rank, down.data(), rank);
        }
      });
    }
  }

  void rope_tables(std::span<const StepToken> tokens) {
    const size_t pairs = inv_freq.size();
    for (size_t t = 0; t < tokens.size(); ++t) {
      const auto p = static_cast<double>(tokens[t].position);
      for (size_t i = 0; i < pairs; ++i) {
        const double angle = p * inv_freq[i];
        rope_cos[t * pairs + i] = static_cast<float>(std::cos(angle));
        rope_sin[t * pairs + i] = static_cast<float>(std::sin(angle));
      }
    }
  }

  void apply_rope(float* vec, int64_t heads, int64_t t) const {
    const int64_t hd = config.head_dim;
    const auto pairs = static_cast<int64_t>(inv_freq.size());
    const float* c = rope_cos.data() + t * pairs;
    const float* s = rope_sin.data() + t * pairs;
    const bool interleaved = config.rope.layout == import::RopeLayout::kInterleaved;
    for (int64_t h = 0; h < heads; ++h) {
      float* x = vec + h * hd;
      for (int64_t i = 0; i < pairs; ++i) {
        float& a = interleaved ? x[2 * i] : x[i];
        float& b = interleaved ? x[2 * i + 1] : x[i + pairs];
        const float a0 = a, b0 = b;
        a = a0 * c[i] - b0 * s[i];
        b = b0 * c[i] + a0 * s[i];
      }
    }
  }

  // Each token attends over its own sequence's cache, up to and including itself.
  void attention(int64_t layer, std::span<const StepToken> tokens) {
    const int64_t hd = config.head_dim, heads = config.heads;
    const int64_t group = config.heads / config.kv_heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const auto n = static_cast<int64_t>(tokens.size());
    pool.parallel_for(n * heads, [&](int64_t begin, int64_t end) {
      thread_local std::vector<float> scores;
      for (int64_t item = begin; item < end; ++item) {
        const int64_t t = item / heads, h = item % heads, kvh = h / group;
        const StepToken& token = tokens[static_cast<size_t>(t)];
        const int64_t visible = token.position + 1;
        const int64_t first_row = slots.cache_row(token.sequence, layer, 0);
        const float* kc = k_cache.data() + first_row * kv_dim;
        const float* vc = v_cache.data() + first_row * kv_dim;
        if (scores.size() < static_cast<size_t>(visible))
          scores.resize(static_cast<size_t>(visible));
        const float* qh = q.data() + t * q_dim + h * hd;
        for (int64_t j = 0; j < visible; ++j)
          scores[static_cast<size_t>(j)] = kernels::dot(qh, kc + j * kv_dim + kvh * hd, hd) * scale;
        kernels::softmax(scores.data(), visible);
        float* out = att.data() + t * q_dim + h * hd;
        std::fill(out, out + hd, 0.0f);
        for (int64_t j = 0; j < visible; ++j)
          kernels::axpy(scores[static_cast<size_t>(j)], vc + j * kv_dim + kvh * hd, out, hd);
      }
    });
  }

  // One micro-batch through every layer. Writes the logits of its tokens that ask for them
  // into consecutive rows (of vocab) from logits_out on.
  void forward(std::span<const StepToken> tokens, float* logits_out) {
    const auto n = static_cast<int64_t>(tokens.size());
    const int64_t d = config.hidden_size, f = config.ffn_size;
    for (int64_t t = 0; t < n; ++t)
      model.token_embedding.dequantize_row(tokens[static_cast<size_t>(t)].id, x.data() + t * d);
    rope_tables(tokens);

    for (int64_t l = 0; l < config.layers; ++l) {
      const import::LayerWeights& w = model.layers[static_cast<size_t>(l)];
      const LayerVectors& lv = layers[static_cast<size_t>(l)];
      for (int64_t t = 0; t < n; ++t)
        kernels::rms_norm(x.data() + t * d, lv.attn_norm.data(), xn.data() + t * d, d,
                          config.rms_eps);
      observe(fmt::format("blk.{}.attn_in", l), xn.data(), n, d);
      matmul({{&w.wq, q.data()}, {&w.wk, k.data()}, {&w.wv, v.data()}}, xn.data(), n);
      adapt(import::Role::kAttnQ, l, xn.data(), q.data(), tokens);
      adapt(import::Role::kAttnK, l, xn.data(), k.data(), tokens);
      adapt(import::Role::kAttnV, l, xn.data(), v.data(), tokens);
      for (int64_t t = 0; t < n; ++t) {
        if (!lv.bq.empty()) {
          kernels::axpy(1.0f, lv.bq.data(), q.data() + t * q_dim, q_dim);
          kernels::axpy(1.0f, lv.bk.data(), k.data() + t * kv_dim, kv_dim);
          kernels::axpy(1.0f, lv.bv.data(), v.data() + t * kv_dim, kv_dim);
        }
        apply_rope(q.data() + t * q_dim, config.heads, t);
        apply_rope(k.data() + t * kv_dim, config.kv_heads, t);
        const StepToken& token = tokens[static_cast<size_t>(t)];
        const int64_t slot = slots.cache_row(token.sequence, l, token.position) * kv_dim;
        std::copy_n(k.data() + t * kv_dim, kv_dim, k_cache.data() + slot);
        std::copy_n(v.data() + t * kv_dim, kv_dim, v_cache.data() + slot);
      }
      attention(l, tokens);
      observe(fmt::format("blk.{}.attn_out", l), att.data(), n, q_dim);
      matmul({{&w.wo, xn.data()}}, att.data(), n);
      adapt(import::Role::kAttnOutput, l, att.data(), xn.data(), tokens);
      if (!lv.bo.empty())
        for (int64_t t = 0; t < n; ++t) kernels::axpy(1.0f, lv.bo.data(), xn.data() + t * d, d);
      for (int64_t i = 0; i < n * d; ++i) x[static_cast<size_t>(i)] += xn[static_cast<size_t>(i)];

      for (int64_t t = 0; t < n; ++t)
        kernels::rms_norm(x.data() + t * d, lv.ffn_norm.data(), xn.data() + t * d, d,
                          config.rms_eps);
      observe(fmt::format("blk.{}.ffn_in", l), xn.data(), n, d);
      matmul({{&w.w_gate, gate.data()}, {&w.w_up, up.data()}}, xn.data(), n);
      adapt(import::Role::kFfnGate, l, xn.data(), gate.data(), tokens);
      adapt(import::Role::kFfnUp, l, xn.data(), up.data(), tokens);
      kernels::swiglu(gate.data(), up.data(), n * f);
      observe(fmt::format("blk.{}.ffn_mid", l), gate.data(), n, f);
      matmul({{&w.w_down, xn.data()}}, gate.data(), n);
      adapt(import::Role::kFfnDown, l, gate.data(), xn.data(), tokens);
      for (int64_t i = 0; i < n * d; ++i) x[static_cast<size_t>(i)] += xn[static_cast<size_t>(i)];
    }

    int64_t rows = 0;
    for (int64_t t = 0; t < n; ++t)
      if (tokens[static_cast<size_t>(t)].logits)
        kernels::rms_norm(x.data() + t * d, output_norm.data(), xn.data() + rows++ * d, d,
                          config.rms_eps);
    if (rows == 0) return;
    observe("output_in", xn.data(), rows, d);
    matmul({{&model.output, logits_out}}, xn.data(), rows);
  }
};

FloatEngine::FloatEngine(const import::Model& model, EngineOptions options, InputObserver observer)
    : state_(std::make_unique<State>(model, options, std::move(observer))) {}

FloatEngine::~FloatEngine() = default;

std::span<const float> FloatEngine::step(std::span<const SequenceTokens> batch) {
  State& s = *state_;
  return s.slots.step(batch, kMicroBatch, [&](std::span<const StepToken> tokens, float* out) {
    s.forward(tokens, out);
  });
}

void FloatEngine::reset_sequence(int sequence) {
  state_->slots.reset(sequence);
}
void FloatEngine::truncate_sequence(int sequence, int64_t position) {
  state_->slots.truncate(sequence, position);
}
int64_t FloatEngine::sequence_position(int sequence) const {
  return state_->slots.position(sequence);
}
void FloatEngine::set_adapter_scales(int sequence, std::span<const float> scales) {
  state_->slots.set_adapter_scales(sequence, scales);
}
std::span<const float> FloatEngine::adapter_scales(int sequence) const {
  return state_->slots.adapter_scales(sequence);
}
int FloatEngine::sequences() const {
  return state_->slots.count();
}
int64_t FloatEngine::context() const {
  return state_->slots.context();
}
int FloatEngine::threads() const {
  return state_->pool.size();
}
const import::Model& FloatEngine::model() const {
  return state_->model;
}
const import::ModelConfig& FloatEngine::config() const {
  return state_->config;
}
const tokenize::Vocabulary& FloatEngine::vocab() const {
  return state_->model.vocab;
}
uint64_t FloatEngine::kv_cache_bytes() const {
  return (state_->k_cache.size() + state_->v_cache.size()) * sizeof(float);
}

}  // namespace etch::run
