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

struct EngineOptions {
  int threads = 0;      // 0: all hardware threads
  int64_t context = 0;  // KV cache length in tokens; 0: min(model context, 4096)
};

// Called with the input rows of every weight matrix before it is applied (the float engine's
// calibration hook for etch build): the input's name (compile::Calibration), rows, count, width.
using InputObserver = std::function<void(const std::string&, const float*, int64_t, int64_t)>;

// What every engine offers (the float reference here; the chip's integer engine and later the
// GPU engine): feed tokens into a KV cache, get logits back. Generation, perplexity and the
// CLI are written against this, so they work with any engine.
class Engine {
 public:
  virtual ~Engine() = default;

  // Feeds `tokens` at the next positions of the cache. Returns the logits of every token
  // ([tokens.size(), vocab] row-major) when all_logits, else of the last token only.
  // Throws Error when the cache would overflow or an id is outside the vocabulary.
  virtual std::span<const float> eval(std::span<const int32_t> tokens, bool all_logits) = 0;
  // Forgets the cache: the next eval starts at position 0.
  virtual void reset() = 0;
  // Drops the cache beyond `position` tokens (for rewinding a conversation).
  virtual void truncate(int64_t position) = 0;

  virtual int64_t position() const = 0;
  virtual int64_t context() const = 0;
  virtual int threads() const = 0;
  virtual const import::ModelConfig& config() const = 0;
  virtual const tokenize::Vocabulary& vocab() const = 0;
};

// Float32 forward pass of a Llama-family model with a KV cache. Weights are read in their
// stored type from the mapped file, a row at a time.
class FloatEngine final : public Engine {
 public:
  FloatEngine(const import::Model& model, EngineOptions options, InputObserver observer = {});
  ~FloatEngine() override;
  FloatEngine(const FloatEngine&) = delete;
  FloatEngine& operator=(const FloatEngine&) = delete;

  std::span<const float> eval(std::span<const int32_t> tokens, bool all_logits) override;
  void reset() override;
  void truncate(int64_t position) override;
  int64_t position() const override;
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
  IntegerEngine(compile::EtchModel model, EngineOptions options, bool scalar_kernels = false);
  ~IntegerEngine() override;
  IntegerEngine(const IntegerEngine&) = delete;
  IntegerEngine& operator=(const IntegerEngine&) = delete;

  std::span<const float> eval(std::span<const int32_t> tokens, bool all_logits) override;
  void reset() override;
  void truncate(int64_t position) override;
  int64_t position() const override;
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

// Generates up to max_tokens after `prompt` (already evaluated into the engine when
// prompt_evaluated, else evaluated here). Calls on_token for each new id; stops at EOS or an
// end-of-turn token (vocab().ends_generation; unless ignore_eos) or when on_token returns false.
struct GenerateOptions {
  int64_t max_tokens = 128;
  bool ignore_eos = false;
};
std::vector<int32_t> generate(Engine& engine, Sampler& sampler, std::span<const int32_t> prompt,
                              const GenerateOptions& options,
                              const std::function<bool(int32_t)>& on_token);

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
// the last ctx/2 - 1 tokens of each chunk are scored. on_chunk(done, total) reports progress.
PerplexityResult perplexity(Engine& engine, std::span<const int32_t> tokens, int64_t ctx,
                            int32_t bos_id, const std::function<void(int64_t, int64_t)>& on_chunk);

// Natural-log softmax probability of `target` under `logits`, computed in double.
double log_softmax_at(std::span<const float> logits, int32_t target);

}  // namespace etch::run
