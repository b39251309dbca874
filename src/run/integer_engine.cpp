// The chip's forward pass, exactly as contract v2 defines it (contract/contract.hpp,
// docs/chip-spec.md). Every matrix product is integer (int16 activations x int8 levels, group
// multipliers, int64 row sums); RMSNorm, softmax with the attention output and SwiGLU are the
// contract's units through the kernels; biases, RoPE and residual adds are binary32 element by
// element. Each output element is computed by one thread start to end, and each token's from
// its own rows and its own sequence's cache alone, so results never depend on the thread count
// or on the other tokens of a step.
#include <algorithm>

#include "contract/contract.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "run/int_kernels.hpp"
#include "run/micro_batch.hpp"
#include "run/run.hpp"

namespace etch::run {

namespace {

// Tokens a forward pass takes at once: each row block is decoded once for all of them (at 64
// the decode was 13% of a 256-token prompt's time on kjv-8m, at 128 about 7%), while their
// activations of one matrix stay within a core's L2 for small models.
constexpr int64_t kMicroBatch = 128;

}  // namespace

struct IntegerEngine::State {
  compile::EtchModel model;
  const import::ModelConfig& config;
  const int_kernels::Kernels& k;
  const bool scalar;
  LayerObserver layer_observer;
  ThreadPool pool;
  SequenceSlots slots;
  int64_t q_dim, kv_dim, pairs;
  float rms_eps;
  contract::RopeLayout rope_layout;
  // The weights stay as the .etch maps them (the software form of multiply-select-add reads
  // the codes in place); a step of several tokens decodes each row once for all of them.
  std::vector<int_kernels::PackedMatrix> matrices;
  // Adapters in SRAM: the .etch's own first (when it has one), then EngineOptions::adapters.
  std::vector<compile::SramAdapter> adapters;

  // KV cache in SRAM: int16 values and one float32 scale per (sequence, layer, kv head,
  // position), rows as head_row() lays them out.
  template <typename T>
  using Lines = std::vector<T, int_kernels::CacheLineAllocator<T>>;
  // Rows and activations that the kernels load 64 bytes at a time start cache lines.
  Lines<int16_t> k_cache, v_cache;
  std::vector<float> k_scale, v_scale;

  // Scratch for one micro-batch.
  std::vector<float> x, y, q, kv_k, kv_v, att, gate, up;
  Lines<int16_t> xq;
  std::vector<float> xs;

  State(compile::EtchModel m, EngineOptions options, bool scalar_kernels, LayerObserver observer)
      : model(std::move(m)),
        config(model.config),
        k(scalar_kernels ? int_kernels::scalar() : int_kernels::fast()),
        scalar(scalar_kernels),
        layer_observer(std::move(observer)),
        pool(options.threads > 0 ? options.threads : ThreadPool::default_threads()),
        slots(options.sequences,
              options.context > 0 ? options.context : std::min<int64_t>(model.rope_positions, 4096),
              config.layers, config.vocab_size) {
    if (slots.context() > model.rope_positions)
      fail_file(model.path, "context {} exceeds the {} positions of its RoPE tables",
                slots.context(), model.rope_positions);
    q_dim = config.heads * config.head_dim;
    kv_dim = config.kv_heads * config.head_dim;
    pairs = config.rope.dims / 2;
    rms_eps = static_cast<float>(config.rms_eps);
    rope_layout = config.rope.layout == import::RopeLayout::kInterleaved
                      ? contract::RopeLayout::kInterleaved
                      : contract::RopeLayout::kHalfSplit;
    try {
      for (const auto& mv : model.matrices) matrices.emplace_back(mv);
    } catch (const Error& e) {
      fail_file(model.path, "{}", e.what());
    }
    if (model.adapter) adapters.push_back(*model.adapter);
    for (const AdapterUse& use : options.adapters) {
      for (const import::AdapterMatrix& am : use.adapter->matrices) {
        const compile::MatrixView& w = model.matrix(am.role, am.layer);
        if (am.rows != w.rows || am.cols != w.cols)
          fail_file(use.adapter->path, "does not fit {}: '{}' is {} x {}, the adapter's {} x {}",
                    model.path, w.name, w.rows, w.cols, am.rows, am.cols);
      }
      adapters.push_back(compile::quantize_adapter(*use.adapter, use.scale));
    }
    std::vector<float> scales;
    for (const compile::SramAdapter& a : adapters) scales.push_back(a.default_scale);
    slots.set_default_adapter_scales(scales);
    const auto cache = static_cast<size_t>(slots.cache_rows() * kv_dim);
    k_cache.assign(cache, 0);
    v_cache.assign(cache, 0);
    k_scale.assign(static_cast<size_t>(slots.cache_rows() * config.kv_heads), 0.0f);
    v_scale.assign(k_scale.size(), 0.0f);
    const auto b = static_cast<size_t>(kMicroBatch);
    const auto d = static_cast<size_t>(config.hidden_size),
               f = static_cast<size_t>(config.ffn_size);
    x.resize(b * d);
    y.resize(b * d);
    q.resize(b * static_cast<size_t>(q_dim));
    att.resize(b * static_cast<size_t>(q_dim));
    kv_k.resize(b * static_cast<size_t>(kv_dim));
    kv_v.resize(b * static_cast<size_t>(kv_dim));
    gate.resize(b * f);
    up.resize(b * f);
    xq.resize(b * std::max({d, f, static_cast<size_t>(q_dim)}));
    xs.resize(b);
  }

  // The cache row of one kv head at one position: a sequence's and layer's rows as
  // slots.cache_row() lays them out, each kv head's together, so that attention reads one
  // head's keys, values and scales as consecutive rows.
  int64_t head_row(int sequence, int64_t layer, int64_t head, int64_t position) const {
    return slots.cache_row(sequence, layer, 0) * config.kv_heads + head * slots.context() +
           position;
  }

  // xq[t] = int16 quantization of in[t] (width n), xs[t] its scale.
  void quantize_rows(const float* in, int64_t tokens, int64_t n) {
    for (int64_t t = 0; t < tokens; ++t)
      xs[static_cast<size_t>(t)] = k.quantize(in + t * n, n, xq.data() + t * n);
  }

  // contract::rms_norm of each row of `in`, quantized for the next matrix into xq / xs.
  void norm_quantize(const float* in, std::span<const float> w, int64_t tokens) {
    const int64_t d = config.hidden_size;
    for (int64_t t = 0; t < tokens; ++t)
      xs[static_cast<size_t>(t)] = k.rms_norm(in + t * d, w.data(), d, rms_eps, xq.data() + t * d);
  }

  // rows[t][i] = contract::add(rows[t][i], bias[i]); no bias, no change.
  static void add_bias(float* rows, int64_t tokens, std::span<const float> bias) {
    const auto n = static_cast<int64_t>(bias.size());
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t i = 0; i < n; ++i)
        rows[t * n + i] = contract::add(rows[t * n + i], bias[static_cast<size_t>(i)]);
  }

  // out[t][r] = float(acc) * (scale[r] * xs[t]) for the jobs' matrices over xq (width cols).
  struct Job {
    const int_kernels::PackedMatrix* m;
    float* out;
  };
  void matmul(std::initializer_list<Job> jobs, int64_t tokens) {
    // The work is shared out by tiles: a tile's rows lie in whole blocks of the kernels' code
    // layout (compile::kCodeBlockRows), and a tile's blocks go through the kernels together.
    constexpr int64_t kTile = contract::kTileRows, kRows = int_kernels::kBlockRows;
    int64_t tiles = 0;
    for (const auto& j : jobs) tiles += (j.m->view->rows + kTile - 1) / kTile;
    pool.parallel_for(tiles, [&](int64_t begin, int64_t end) {
      int64_t base = 0;
      for (const auto& job : jobs) {
        const compile::MatrixView& v = *job.m->view;
        const int64_t rows = v.rows, cols = v.cols;
        const int64_t job_tiles = (rows + kTile - 1) / kTile;
        const int64_t lo = std::max(begin, base) - base,
                      hi = std::min(end, base + job_tiles) - base;
        base += job_tiles;
        for (int64_t tile = lo; tile < hi; ++tile) {
          const int64_t first = tile * kTile, count = std::min(rows, first + kTile) - first;
          // One token reads the codes directly; several decode each block of kRows rows once
          // (into a thread's buffer) and share it. The scalar set keeps the contract's unit per
          // token.
          if (scalar || tokens == 1) {
            for (int64_t t = 0; t < tokens; ++t)
              k.packed_products(xq.data() + t * cols, xs[static_cast<size_t>(t)], *job.m, first,
                                count, job.out + t * rows + first);
            continue;
          }
          thread_local Lines<int16_t> w;
          thread_local std::vector<const int16_t*> rows_of_x;
          w.resize(static_cast<size_t>(kRows * ((cols + 1) / 2 * 2)));
          rows_of_x.resize(static_cast<size_t>(tokens));
          for (int64_t t = 0; t < tokens; ++t)
            rows_of_x[static_cast<size_t>(t)] = xq.data() + t * cols;
          for (int64_t block = first; block < first + count; block += kRows) {
            k.expand_block(*job.m, block, w.data());
            k.block_products(rows_of_x.data(), xs.data(), tokens, w.data(), cols,
                             v.scales.data() + block,
                             std::min(first + count, block + kRows) - block, job.out + block, rows);
          }
        }
      }
    });
  }

  // The LoRA path after a matrix product, from SRAM: contract::lora on the product's own
  // quantized input (xq, xs) for each adapter of (role, layer) whose scale for the token's
  // sequence is not 0; out is [tokens][rows].
  void adapt(import::Role role, int64_t layer, float* out, std::span<const StepToken> tokens) {
    for (size_t i = 0; i < adapters.size(); ++i) {
      const compile::SramLoraMatrix* m = adapters[i].find(role, layer);
      if (m == nullptr) continue;
      const auto rows = static_cast<size_t>(m->rows), cols = static_cast<size_t>(m->cols);
      pool.parallel_for(static_cast<int64_t>(tokens.size()), [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
          const float scale =
              slots.adapter_scales(tokens[static_cast<size_t>(t)].sequence)[i] * m->scale;
          if (scale == 0.0f) continue;
          const auto at = static_cast<size_t>(t);
          contract::lora({xq.data() + at * cols, cols}, xs[at], m->a, m->a_scales, m->b,
                         m->b_scales, scale, {out + at * rows, rows});
        }
      });
    }
  }

  void apply_rope(float* vec, int64_t heads, int64_t pos) const {
    const auto table = [&](std::span<const float> t) {
      return t.subspan(static_cast<size_t>(pos * pairs), static_cast<size_t>(pairs));
    };
    contract::rope({vec, static_cast<size_t>(heads * config.head_dim)}, config.head_dim,
                   table(model.rope_cos), table(model.rope_sin), rope_layout);
  }

  // Each token attends over its own sequence's cache, up to and including itself:
  // contract::attention_score against every visible cached key, then
  // contract::attention_output over the cached values. The queries of a run of tokens of one
  // sequence that share a kv head (the heads of its group, token after token) go to the kernel
  // in blocks, so that each cached row is read once for a block.
  struct AttentionBlock {
    int64_t first_token, kv_head, first_query, count;
  };
  std::vector<AttentionBlock> attention_blocks;

  void attention(int64_t layer, std::span<const StepToken> tokens) {
    const int64_t hd = config.head_dim, kv_heads = config.kv_heads, group = config.heads / kv_heads;
    const float inv_sqrt = contract::attention_scale(hd);
    const auto n = static_cast<int64_t>(tokens.size());
    attention_blocks.clear();
    for (int64_t first = 0, end = 0; first < n; first = end) {
      end = first + 1;
      while (end < n && tokens[static_cast<size_t>(end)].sequence ==
                            tokens[static_cast<size_t>(first)].sequence)
        ++end;
      const int64_t queries = (end - first) * group;
      for (int64_t kvh = 0; kvh < kv_heads; ++kvh)
        for (int64_t i = 0; i < queries; i += int_kernels::kAttentionQueries)
          attention_blocks.push_back(
              {first, kvh, i, std::min(int_kernels::kAttentionQueries, queries - i)});
    }
    pool.parallel_for(
        static_cast<int64_t>(attention_blocks.size()), [&](int64_t begin, int64_t end) {
          constexpr int64_t kQueries = int_kernels::kAttentionQueries;
          thread_local std::vector<int16_t> codes;
          codes.resize(static_cast<size_t>(kQueries * hd));
          for (int64_t item = begin; item < end; ++item) {
            const AttentionBlock& block = attention_blocks[static_cast<size_t>(item)];
            const int16_t* queries[kQueries];
            float query_scales[kQueries];
            int64_t visible[kQueries];
            float* outputs[kQueries];
            for (int64_t i = 0; i < block.count; ++i) {
              const int64_t query = block.first_query + i;
              const int64_t t = block.first_token + query / group,
                            h = block.kv_head * group + query % group;
              int16_t* code = codes.data() + i * hd;
              query_scales[i] = k.quantize(q.data() + t * q_dim + h * hd, hd, code);
              queries[i] = code;
              visible[i] = tokens[static_cast<size_t>(t)].position + 1;
              outputs[i] = att.data() + t * q_dim + h * hd;
            }
            const int64_t row = head_row(tokens[static_cast<size_t>(block.first_token)].sequence,
                                         layer, block.kv_head, 0);
            k.attention_block(queries, query_scales, visible, block.count,
                              k_cache.data() + row * hd, v_cache.data() + row * hd, hd,
                              k_scale.data() + row, v_scale.data() + row, 1, hd, inv_sqrt, outputs);
          }
        });
  }

  void observe(std::span<const StepToken> tokens, int64_t layer, int unit) const {
    if (!layer_observer) return;
    const int64_t d = config.hidden_size;
    for (size_t t = 0; t < tokens.size(); ++t)
      layer_observer(tokens[t].position, layer, unit,
                     {x.data() + static_cast<int64_t>(t) * d, static_cast<size_t>(d)});
  }

  // One micro-batch through every layer. Writes the logits of its tokens that ask for them
  // into consecutive rows (of vocab) from logits_out on.
  void forward(std::span<const StepToken> tokens, float* logits_out) {
    const auto n = static_cast<int64_t>(tokens.size());
    const int64_t d = config.hidden_size, f = config.ffn_size;
    const int_kernels::PackedMatrix& embedding = matrices.front();
    for (int64_t t = 0; t < n; ++t) {
      const int64_t id = tokens[static_cast<size_t>(t)].id;
      k.expand_row(embedding, id, xq.data());
      const float scale = embedding.view->scales[static_cast<size_t>(id)];
      for (int64_t j = 0; j < d; ++j)
        x[static_cast<size_t>(t * d + j)] = static_cast<float>(xq[static_cast<size_t>(j)]) * scale;
    }
    for (int64_t l = 0; l < config.layers; ++l) {
      auto m = [&](import::Role role) -> const int_kernels::PackedMatrix& {
        return matrices[compile::matrix_index(role, l, config.layers)];
      };
      norm_quantize(x.data(), model.attn_norms[static_cast<size_t>(l)], n);
      matmul({{&m(import::Role::kAttnQ), q.data()},
              {&m(import::Role::kAttnK), kv_k.data()},
              {&m(import::Role::kAttnV), kv_v.data()}},
             n);
      adapt(import::Role::kAttnQ, l, q.data(), tokens);
      adapt(import::Role::kAttnK, l, kv_k.data(), tokens);
      adapt(import::Role::kAttnV, l, kv_v.data(), tokens);
      const compile::EtchModel::Biases& bias = model.biases[static_cast<size_t>(l)];
      add_bias(q.data(), n, bias.q);
      add_bias(kv_k.data(), n, bias.k);
      add_bias(kv_v.data(), n, bias.v);
      for (int64_t t = 0; t < n; ++t) {
        const StepToken& token = tokens[static_cast<size_t>(t)];
        apply_rope(q.data() + t * q_dim, config.heads, token.position);
        apply_rope(kv_k.data() + t * kv_dim, config.kv_heads, token.position);
        for (int64_t h = 0; h < config.kv_heads; ++h) {
          const int64_t row = head_row(token.sequence, l, h, token.position);
          const int64_t slot = row * config.head_dim;
          k_scale[static_cast<size_t>(row)] =
              k.quantize(kv_k.data() + t * kv_dim + h * config.head_dim, config.head_dim,
                         k_cache.data() + slot);
          v_scale[static_cast<size_t>(row)] =
              k.quantize(kv_v.data() + t * kv_dim + h * config.head_dim, config.head_dim,
                         v_cache.data() + slot);
        }
      }
      attention(l, tokens);
      quantize_rows(att.data(), n, q_dim);
      matmul({{&m(import::Role::kAttnOutput), y.data()}}, n);
      adapt(import::Role::kAttnOutput, l, y.data(), tokens);
      add_bias(y.data(), n, bias.o);
      for (int64_t i = 0; i < n * d; ++i) x[static_cast<size_t>(i)] += y[static_cast<size_t>(i)];
      observe(tokens, l, 0);

      norm_quantize(x.data(), model.ffn_norms[static_cast<size_t>(l)], n);
      matmul({{&m(import::Role::kFfnGate), gate.data()}, {&m(import::Role::kFfnUp), up.data()}}, n);
      adapt(import::Role::kFfnGate, l, gate.data(), tokens);
      adapt(import::Role::kFfnUp, l, up.data(), tokens);
      k.swiglu(gate.data(), up.data(), n * f);
      quantize_rows(gate.data(), n, f);
      matmul({{&m(import::Role::kFfnDown), y.data()}}, n);
      adapt(import::Role::kFfnDown, l, y.data(), tokens);
      for (int64_t i = 0; i < n * d; ++i) x[static_cast<size_t>(i)] += y[static_cast<size_t>(i)];
      observe(tokens, l, 1);
    }
    // The rows asked for move to the front of x, so that the head reads only them.
    int64_t rows = 0;
    for (int64_t t = 0; t < n; ++t) {
      if (!tokens[static_cast<size_t>(t)].logits) continue;
      if (rows != t) std::copy_n(x.data() + t * d, d, x.data() + rows * d);
      ++rows;
    }
    if (rows == 0) return;
    norm_quantize(x.data(), model.output_norm, rows);
    matmul({{&matrices.back(), logits_out}}, rows);
  }
};

IntegerEngine::IntegerEngine(compile::EtchModel model, EngineOptions options, bool scalar_kernels,
                             LayerObserver layer_observer)
    : state_(std::make_unique<State>(std::move(model), std::move(options), scalar_kernels,
                                     std::move(layer_observer))) {}

IntegerEngine::~IntegerEngine() = default;

std::span<const float> IntegerEngine::step(std::span<const SequenceTokens> batch) {
  State& s = *state_;
  return s.slots.step(batch, kMicroBatch, [&](std::span<const StepToken> tokens, float* out) {
    s.forward(tokens, out);
  });
}

void IntegerEngine::reset_sequence(int sequence) {
  state_->slots.reset(sequence);
}
void IntegerEngine::truncate_sequence(int sequence, int64_t position) {
  state_->slots.truncate(sequence, position);
}
int64_t IntegerEngine::sequence_position(int sequence) const {
  return state_->slots.position(sequence);
}
void IntegerEngine::set_adapter_scales(int sequence, std::span<const float> scales) {
  state_->slots.set_adapter_scales(sequence, scales);
}
std::span<const float> IntegerEngine::adapter_scales(int sequence) const {
  return state_->slots.adapter_scales(sequence);
}
int IntegerEngine::sequences() const {
  return state_->slots.count();
}
int64_t IntegerEngine::context() const {
  return state_->slots.context();
}
int IntegerEngine::threads() const {
  return state_->pool.size();
}
const import::ModelConfig& IntegerEngine::config() const {
  return state_->config;
}
const tokenize::Vocabulary& IntegerEngine::vocab() const {
  return state_->model.vocab;
}
const compile::EtchModel& IntegerEngine::model() const {
  return state_->model;
}

}  // namespace etch::run
