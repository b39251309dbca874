#include "run/pipeline.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

#include "core/error.hpp"

namespace etch::run {

AdapterSpec parse_adapter_spec(const std::string& text) {
  AdapterSpec spec{text, 1.0f};
  if (const size_t colon = text.rfind(':'); colon != std::string::npos) {
    const std::string tail = text.substr(colon + 1);
    char* end = nullptr;
    const double scale = std::strtod(tail.c_str(), &end);
    if (!tail.empty() && end == tail.c_str() + tail.size()) {
      if (!(std::abs(scale) <= kMaxAdapterScale))
        fail("adapter scale '{}' is out of range (-{} to {})", tail, kMaxAdapterScale,
             kMaxAdapterScale);
      spec = {text.substr(0, colon), static_cast<float>(scale)};
    }
  }
  if (spec.path.empty()) fail("'{}' names no adapter file or folder", text);
  return spec;
}

LoadedModel::LoadedModel(const std::string& path, const std::vector<AdapterSpec>& adapters)
    : path_(path) {
  if (compile::is_etch_file(path))
    etch_ = compile::read_etch(path);
  else
    model_ = import::load_model(path);
  if (etch_ && etch_->adapter)
    adapter_entries_.push_back({etch_->adapter->name, etch_->adapter->default_scale});
  for (const AdapterSpec& spec : adapters) {
    adapters_.push_back(
        {std::make_shared<const import::Adapter>(import::load_adapter(spec.path, config())),
         spec.scale});
    adapter_entries_.push_back({adapters_.back().adapter->name, spec.scale});
  }
}

const import::ModelConfig& LoadedModel::config() const {
  return model_ ? model_->config : etch_->config;
}

const tokenize::Vocabulary& LoadedModel::vocab() const {
  return model_ ? model_->vocab : etch_->vocab;
}

std::string LoadedModel::description() const {
  const import::ModelConfig& c = config();
  std::string with;
  for (const AdapterEntry& a : adapter_entries_)
    with += fmt::format(", adapter {} at scale {}", a.name, a.scale);
  if (model_) {
    uint64_t bytes = 0;
    for (const auto& t : model_->tensors) bytes += t.bytes;
    return fmt::format("{}, {} layers, hidden {}, vocab {}, {:.1f} MiB of weights{}",
                       model_->format, c.layers, c.hidden_size, c.vocab_size,
                       static_cast<double>(bytes) / (1 << 20), with);
  }
  return fmt::format(
      ".etch {}, {} layers, hidden {}, vocab {}, {:.3f} bits per weight{}", etch_->recipe, c.layers,
      c.hidden_size, c.vocab_size,
      static_cast<double>(etch_->rom_bits()) / static_cast<double>(etch_->parameters()), with);
}

int64_t LoadedModel::trained_context() const {
  const int64_t trained = config().context_length;
  if (!etch_) return trained;
  // The chip holds RoPE tables for rope_positions only (at most 32768): its limit too.
  return trained > 0 ? std::min(trained, etch_->rope_positions) : etch_->rope_positions;
}

std::unique_ptr<Engine> LoadedModel::engine(EngineOptions options) const {
  const int64_t trained = trained_context();
  if (trained > 0 && options.context > trained)
    fail_file(path_,
              "a context of {} tokens is past the {} the model was trained for; its output there "
              "would be unreliable (give --ctx {} or less)",
              options.context, trained, trained);
  options.adapters = adapters_;
  if (model_) {
    import::check_finite(*model_, options.threads);
    return std::make_unique<FloatEngine>(*model_, std::move(options));
  }
  return std::make_unique<IntegerEngine>(*etch_, std::move(options));
}

namespace {

tokenize::Tokenizer tokenizer_of(const tokenize::Vocabulary& vocab, const std::string& path) {
  if (vocab.size() == 0)
    fail_file(path,
              "the model has no tokenizer (no tokenizer.model or tokenizer.json, or no "
              "tokenizer.* metadata), so it cannot read or write text");
  return tokenize::Tokenizer(vocab);
}

}  // namespace

tokenize::Tokenizer LoadedModel::tokenizer() const {
  return tokenizer_of(vocab(), path_);
}

tokenize::Tokenizer load_tokenizer(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec) || compile::is_etch_file(path))
    return LoadedModel(path).tokenizer();
  return tokenizer_of(import::load_gguf_vocabulary(path), path);
}

const import::Model& LoadedModel::float_model() const {
  if (!model_)
    fail_file(path_,
              "is a .etch artifact; this needs a float model (GGUF file or Hugging Face "
              "folder)");
  return *model_;
}

namespace {

// Calibration text cut into chunks of up to 256 tokens that each start with BOS (when the
// vocabulary has one), over at most `budget` tokens in all.
std::vector<std::vector<int32_t>> calibration_chunks(const import::Model& model,
                                                     std::span<const int32_t> text,
                                                     int64_t budget) {
  if (text.empty()) fail("calibration text has no tokens");
  const int64_t chunk =
      std::min<int64_t>(256, model.config.context_length > 0 ? model.config.context_length : 256);
  const int64_t total = std::min<int64_t>(budget, static_cast<int64_t>(text.size()));
  std::vector<std::vector<int32_t>> chunks;
  int64_t used = 0;
  for (int64_t at = 0; used < total; at += chunk - 1) {
    std::vector<int32_t> ids;
    if (model.vocab.bos_id >= 0) ids.push_back(model.vocab.bos_id);
    for (int64_t i = at;
         i < static_cast<int64_t>(text.size()) && static_cast<int64_t>(ids.size()) < chunk &&
         used + static_cast<int64_t>(ids.size()) < total;
         ++i)
      ids.push_back(text[static_cast<size_t>(i)]);
    if (ids.size() < 2) break;
    used += static_cast<int64_t>(ids.size());
    chunks.push_back(std::move(ids));
  }
  return chunks;
}

int64_t chunk_context(const std::vector<std::vector<int32_t>>& chunks) {
  size_t longest = 1;
  for (const auto& c : chunks) longest = std::max(longest, c.size());
  return static_cast<int64_t>(longest);
}

// Natural-log softmax of one row of logits, in double.
void log_softmax(std::span<const float> logits, std::vector<double>& out) {
  const double top = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - top);
  const double log_sum = top + std::log(sum);
  out.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - log_sum;
}

// The tensor of `model` stored at `matrix` in a .etch (compile::matrix_index order).
import::Tensor& matrix_tensor(import::Model& model,
                              size_t matrix){const int64_t layers = model.config.layers;
if (matrix == compile::matrix_index(import::Role::kTokenEmbedding, -1, layers))
  return model.token_embedding;
if (matrix == compile::matrix_index(import::Role::kOutput, -1, layers)) return model.output;
for (int64_t l = 0; l < layers; ++l)
  for (import::Role role : import::kLayerMatrices)
    if (matrix == compile::matrix_index(role, l, layers))
      // `model` is the caller's own copy: its layer tensors may be repointed.
      return const_cast<import::Tensor&>(model.layers[static_cast<size_t>(l)].matrix(role));
fail("internal: no matrix {} in a model of {} layers", matrix, layers);
}  // namespace

}  // namespace etch::run

compile::Calibration calibrate(const import::Model& model, std::span<const int32_t> text,
                               int64_t budget, int threads,
                               const std::function<void(int64_t, int64_t)>& on_progress) {
  const std::vector<std::vector<int32_t>> chunks = calibration_chunks(model, text, budget);
  int64_t total = 0;
  for (const auto& c : chunks) total += static_cast<int64_t>(c.size());
  compile::Calibration calibration;
  FloatEngine engine(model, {.threads = threads, .context = chunk_context(chunks)},
                     [&](const std::string& input, const float* rows, int64_t count,
                         int64_t width) { calibration.observe(input, rows, count, width); });
  int64_t used = 0;
  for (const auto& ids : chunks) {
    engine.reset();
    // Every token's logits, so that the output matrix's input is observed at every token too,
    // not only at each chunk's last.
    engine.eval(ids, true);
    used += static_cast<int64_t>(ids.size());
    if (on_progress) on_progress(used, total);
  }
  calibration.set_tokens(used);
  return calibration;
}

compile::LossProbe loss_probe(const import::Model& model, std::span<const int32_t> text,
                              int64_t budget, int threads) {
  auto chunks = std::make_shared<const std::vector<std::vector<int32_t>>>(
      calibration_chunks(model, text, budget));
  const int64_t context = chunk_context(*chunks);
  const auto vocab = static_cast<size_t>(model.config.vocab_size);
  // The float model's log-probabilities at every position, row after row.
  auto reference = std::make_shared<std::vector<float>>();
  {
    FloatEngine engine(model, {.threads = threads, .context = context});
    std::vector<double> row;
    for (const auto& ids : *chunks) {
      engine.reset();
      const std::span<const float> logits = engine.eval(ids, true);
      for (size_t p = 0; p < ids.size(); ++p) {
        log_softmax(logits.subspan(p * vocab, vocab), row);
        reference->insert(reference->end(), row.begin(), row.end());
      }
    }
  }
  return [&model, chunks, reference, context, vocab, threads](size_t matrix,
                                                              std::span<const float> weights) {
    import::Model replaced = model;
    import::Tensor& tensor = matrix_tensor(replaced, matrix);
    if (static_cast<int64_t>(weights.size()) != tensor.elements())
      fail("internal: {} weights for matrix {} of {}", weights.size(), matrix, tensor.elements());
    tensor.type = import::TensorType::kF32;
    tensor.data = reinterpret_cast<const uint8_t*>(weights.data());
    tensor.bytes = weights.size() * sizeof(float);
    FloatEngine engine(replaced, {.threads = threads, .context = context});
    // Mean KL divergence of the replaced model's next-token distribution from the float one's.
    std::vector<double> row;
    double divergence = 0;
    size_t position = 0;
    for (const auto& ids : *chunks) {
      engine.reset();
      const std::span<const float> logits = engine.eval(ids, true);
      for (size_t p = 0; p < ids.size(); ++p, ++position) {
        log_softmax(logits.subspan(p * vocab, vocab), row);
        const float* ref = reference->data() + position * vocab;
        for (size_t v = 0; v < vocab; ++v)
          divergence += std::exp(static_cast<double>(ref[v])) * (ref[v] - row[v]);
      }
    }
    return position > 0 ? divergence / static_cast<double>(position) : 0.0;
  };
}

}  // namespace etch::run
