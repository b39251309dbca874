// etch run: executes an imported model. The float engine here is the reference every later
// engine (the chip's integer engine, the GPU engine, the RTL) is checked against, so it
// favours exactness over speed where the two conflict.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "compile/compile.hpp"
#include "import/import.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::run {

// A LoRA adapter an engine applies: y += scale * matrix.scale * B (A x) after each matrix
// product it adapts.
inline constexpr float kMaxAdapterScale = 100.0f;  // the largest |scale| a user may give
struct AdapterUse {
  std::shared_ptr<const import::Adapter> adapter;
  float scale = 1.0f;  // every sequence's until Engine::set_adapter_scales
};

// Called by the integer engine with each token's residual stream as a layer writes it: unit 0
// after the attention block's residual add, unit 1 the layer's output (etch rtl --verify
// compares the RTL against these). position is the token's position in its sequence.
using LayerObserver =
    std::function<void(int64_t position, int64_t layer, int unit, std::span<const float> x)>;

struct EngineOptions {
  int threads = 0;      // 0: all hardware threads
  int64_t context = 0;  // KV cache length in tokens, per sequence; 0: min(model context, 4096)
  int sequences = 1;    // slots, each with its own KV cache of `context` tokens
  std::vector<AdapterUse> adapters = {};  // applied in order after each matrix product
};

// Called with the input rows of every weight matrix before it is applied (the float engine's
// calibration hook for etch build): the input's name (compile::Calibration), rows, count, width.
using InputObserver = std::function<void(const std::string&, const float*, int64_t, int64_t)>;

// One sequence's part of a batched step.
struct SequenceTokens {
  int sequence = 0;                 // slot, 0 .. sequences() - 1
  std::span<const int32_t> tokens;  // fed at the sequence's next positions
  bool all_logits = false;          // logits of every token, else of the last one only
};

// What every engine offers (the float reference here; the chip's integer engine and later the
// GPU engine): sequences (slots), each with its own KV cache, advanced together in steps that
// return logits. Generation, perplexity and the CLI are written against this, so they work
// with any engine. An engine holds sequences x context x one token's KV cache (every layer's
// keys and values) from construction on, and allocates nothing per token once its buffers
// have grown to the largest step seen.
class Engine {
 public:
  virtual ~Engine() = default;

  // Advances every listed sequence by its tokens in one pass over the weights (in
  // micro-batches of bounded size that mix sequences, so each weight row is read once for
  // all of them, as the chip's pipeline does). Returns logits rows in the order of `batch`:
  // tokens.size() rows for an all_logits entry, else one row (none for an empty entry), each
  // vocab() floats. Throws Error, advancing nothing, on an unknown or repeated sequence, a
  // context overflow or an id outside the vocabulary. Guarantee: a sequence's logits do not
  // depend, bit for bit, on the other entries, on the thread count, or on how its tokens were
  // split into steps.
  virtual std::span<const float> step(std::span<const SequenceTokens> batch) = 0;
  // Forgets the sequence's cache: its next step starts at position 0.
  virtual void reset_sequence(int sequence) = 0;
  // Drops the sequence's cache beyond `position` tokens (for rewinding a conversation).
  virtual void truncate_sequence(int sequence, int64_t position) = 0;
  virtual int64_t sequence_position(int sequence) const = 0;
  // The scale of each of the engine's adapters for one sequence (IntegerEngine: the .etch's
  // own adapter first, if it has one, then EngineOptions::adapters; FloatEngine: those), from
  // its next token on; 0 leaves an adapter out. Tokens already cached keep what they were
  // computed with: a caller switching adapters mid-sequence resets the sequence. Throws Error
  // for a wrong count or a non-finite scale.
  virtual void set_adapter_scales(int sequence, std::span<const float> scales) = 0;
  virtual std::span<const float> adapter_scales(int sequence) const = 0;
  virtual int sequences() const = 0;
  virtual int64_t context() const = 0;  // per sequence
  virtual int threads() const = 0;
  virtual const import::ModelConfig& config() const = 0;
  virtual const tokenize::Vocabulary& vocab() const = 0;

  // Sequence 0, for single-user callers (perplexity, bench, the CLI).
  std::span<const float> eval(std::span<const int32_t> tokens, bool all_logits) {
    const SequenceTokens entry{.sequence = 0, .tokens = tokens, .all_logits = all_logits};
    return step({&entry, 1});
  }
  void reset() { reset_sequence(0); }
  void truncate(int64_t position) { truncate_sequence(0, position); }
  int64_t position() const { return sequence_position(0); }
};

// Float32 forward pass of a Llama-family model with a KV cache. Weights are read in their
// stored type from the mapped file, a row at a time.
class FloatEngine final : public Engine {
 public:
  FloatEngine(const import::Model& model, EngineOptions options, InputObserver observer = {});
  ~FloatEngine() override;
  FloatEngine(const FloatEngine&) = delete;
  FloatEngine& operator=(const FloatEngine&) = delete;

  std::span<const float> step(std::span<const SequenceTokens> batch) override;
  void reset_sequence(int sequence) override;
  void truncate_sequence(int sequence, int64_t position) override;
  int64_t sequence_position(int sequence) const override;
  void set_adapter_scales(int sequence, std::span<const float> scales) override;
  std::span<const float> adapter_scales(int sequence) const override;
  int sequences() const override;
  int64_t context() const override;
  int threads() const override;
  const import::ModelConfig& config() const override;
  const tokenize::Vocabulary& vocab() const override;

  const import::Model& model() const;
  uint64_t kv_cache_bytes() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The chip's integer forward pass, bit-exact per docs/chip-spec.md, over a .etch file.
class IntegerEngine final : public Engine {
 public:
  // scalar_kernels: run the plain reference kernels instead of the vectorised ones.
  IntegerEngine(compile::EtchModel model, EngineOptions options, bool scalar_kernels = false,
                LayerObserver layer_observer = {});
  ~IntegerEngine() override;
  IntegerEngine(const IntegerEngine&) = delete;
  IntegerEngine& operator=(const IntegerEngine&) = delete;

  std::span<const float> step(std::span<const SequenceTokens> batch) override;
  void reset_sequence(int sequence) override;
  void truncate_sequence(int sequence, int64_t position) override;
  int64_t sequence_position(int sequence) const override;
  void set_adapter_scales(int sequence, std::span<const float> scales) override;
  std::span<const float> adapter_scales(int sequence) const override;
  int sequences() const override;
  int64_t context() const override;
  int threads() const override;
  const import::ModelConfig& config() const override;
  const tokenize::Vocabulary& vocab() const override;

  const compile::EtchModel& model() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct SamplingParams {
  float temperature = 0.8f;     // <= 0: greedy
  int top_k = 40;               // <= 0: off
  float top_p = 0.95f;          // >= 1: off
  float min_p = 0.05f;          // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off; applied to the last repeat_last_n tokens
  int repeat_last_n = 64;
  // OpenAI's penalties over the same window: the logit loses frequency_penalty per occurrence
  // and presence_penalty once for appearing at all. 0: off.
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint64_t seed = 0;
};

// Chooses the next token from logits. The chain is llama.cpp's: repetition penalty,
// top-k, top-p, min-p, temperature, then a draw from a seeded generator, so a seed
// reproduces a run exactly.
class Sampler {
 public:
  explicit Sampler(SamplingParams params);
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);
  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<Candidate> candidates_;
};

// Index of the largest logit (the lowest index on ties).
int32_t argmax(std::span<const float> logits);

struct PerplexityResult {
  double ppl = 0;
  double nll_mean = 0;
  double nll_stderr = 0;  // standard error of the mean NLL
  int64_t tokens_scored = 0;
  int64_t chunks = 0;
  int64_t ctx = 0;
};

// llama.cpp's perplexity method: the whole text tokenized once (BOS first), cut into
// consecutive chunks of ctx tokens whose first token is replaced by BOS; the predictions of
// the last ctx/2 - 1 tokens of each chunk are scored. on_chunk(done, total, ppl) reports
// progress with the running estimate over the chunks done, as llama-perplexity prints it.
PerplexityResult perplexity(Engine& engine, std::span<const int32_t> tokens, int64_t ctx,
                            int32_t bos_id,
                            const std::function<void(int64_t, int64_t, double)>& on_chunk);

// Natural-log softmax probability of `target` under `logits`, computed in double.
double log_softmax_at(std::span<const float> logits, int32_t target);

}  // namespace etch::run
