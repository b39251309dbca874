#include "run/pipeline.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
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

compile::Calibration calibrate(const import::Model& model, std::span<const int32_t> text,
                               int64_t budget, int threads,
                               const std::function<void(int64_t, int64_t)>& on_progress) {
  if (text.empty()) fail("calibration text has no tokens");
  compile::Calibration calibration;
  const int64_t chunk =
      std::min<int64_t>(256, model.config.context_length > 0 ? model.config.context_length : 256);
  FloatEngine engine(model, {.threads = threads, .context = chunk},
                     [&](const std::string& input, const float* rows, int64_t count,
                         int64_t width) { calibration.observe(input, rows, count, width); });
  const int64_t total = std::min<int64_t>(budget, static_cast<int64_t>(text.size()));
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

}  // namespace etch::run
