// The steps before a run that every front end (the CLI, the server) shares: opening any model
// file as an engine, and calibrating the float model for `etch build`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "compile/compile.hpp"
#include "import/import.hpp"
#include "run/run.hpp"
#include "tokenize/tokenize.hpp"
#include "tokenize/vocabulary.hpp"

namespace etch::run {

// An adapter as `--lora FILE_OR_FOLDER[:SCALE]` names it: the text after the last ':' is the
// scale when it reads as a number (from -kMaxAdapterScale to kMaxAdapterScale), else part of
// the path (scale 1).
struct AdapterSpec {
  std::string path;
  float scale = 1.0f;
};
// Throws Error for an empty path or a scale out of range.
AdapterSpec parse_adapter_spec(const std::string& text);

// An adapter an engine of a LoadedModel holds, in the engine's order (Engine::adapter_scales).
struct AdapterEntry {
  std::string name;    // what a server request names it by
  float scale = 1.0f;  // its default scale
};

// A model file opened for running: a GGUF file or Hugging Face folder, run by the float
// engine, or a .etch artifact, run by the chip's integer engine.
class LoadedModel {
 public:
  // Adapters are read and checked against the model here (LoRA, import::load_adapter).
  explicit LoadedModel(const std::string& path, const std::vector<AdapterSpec>& adapters = {});

  const std::string& path() const { return path_; }
  const import::ModelConfig& config() const;
  const tokenize::Vocabulary& vocab() const;
  // One line for logs: the format, the shape, and the weights' size (float) or bits per
  // weight (.etch), e.g. "gguf, 8 layers, hidden 256, vocab 4096, 15.6 MiB of weights".
  std::string description() const;
  // The context the model was trained for (its config's context_length), and for a .etch at
  // most the positions of its RoPE tables; 0 when unknown.
  int64_t trained_context() const;
  // Refuses a context past trained_context(), in both engines, and a float model with
  // non-finite weights (import::check_finite), before any work.
  std::unique_ptr<Engine> engine(EngineOptions options) const;
  // The model's tokenizer. Throws Error naming the model when it has none (no tokenizer.model
  // or tokenizer.json, no tokenizer.* keys), so that every command that needs text refuses
  // such a model in one line.
  tokenize::Tokenizer tokenizer() const;
  // The float model, for what only a float model can do (building a .etch); throws Error for a
  // .etch artifact.
  const import::Model& float_model() const;
  // The adapters its engines hold: a .etch's own (etch build --lora) first, then the given.
  const std::vector<AdapterEntry>& adapters() const { return adapter_entries_; }
  // The given adapters, read (for etch build --lora).
  const std::vector<AdapterUse>& given_adapters() const { return adapters_; }

 private:
  std::string path_;
  std::optional<import::Model> model_;
  std::optional<compile::EtchModel> etch_;
  std::vector<AdapterUse> adapters_;
  std::vector<AdapterEntry> adapter_entries_;
};

// The tokenizer of a model file without its weights: of a GGUF file only the tokenizer.* keys
// are read, so vocabulary-only files (llama.cpp's ggml-vocab-*.gguf, any architecture, no
// tensors) tokenize. Throws Error naming the file when it has no tokenizer.
tokenize::Tokenizer load_tokenizer(const std::string& path);

// Runs the float model over calibration text, in chunks of up to 256 tokens that each start
// with BOS (when the vocabulary has one), over at most `budget` tokens in all, and collects
// the second moments of every matrix input for compile::build. on_progress(done, total)
// reports the tokens used. Throws Error when `text` is empty.
compile::Calibration calibrate(const import::Model& model, std::span<const int32_t> text,
                               int64_t budget, int threads,
                               const std::function<void(int64_t, int64_t)>& on_progress);

// compile::BuildOptions::loss_probe on the same chunks of calibration text as calibrate(): the
// mean over their tokens of the KL divergence of the float model's next-token distribution from
// the one with a matrix replaced. Keeps a reference to `model`, which must outlive the probe.
compile::LossProbe loss_probe(const import::Model& model, std::span<const int32_t> text,
                              int64_t budget, int threads);

}  // namespace etch::run
