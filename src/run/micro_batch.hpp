// Shared by every engine: the positions of its sequences, the checks of a step and the cut of
// a step into micro-batches that mix sequences.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "core/error.hpp"
#include "run/run.hpp"

namespace etch::run {

// One token of a step as an engine's forward pass sees it.
struct StepToken {
  int32_t id = 0;
  int sequence = 0;
  int64_t position = 0;  // in its sequence
  bool logits = false;   // whether the caller asked for this token's logits
};

// The sequences (slots) of an engine: their positions, where their KV caches lie, and how a
// step is checked and cut into micro-batches.
class SequenceSlots {
 public:
  SequenceSlots(int sequences, int64_t context, int64_t layers, int64_t vocab)
      : context_(context), layers_(layers), vocab_(vocab) {
    if (sequences < 1) fail("an engine needs at least one sequence, not {}", sequences);
    if (context < 1) fail("an engine needs a context of at least one token, not {}", context);
    positions_.assign(static_cast<size_t>(sequences), 0);
    listed_.assign(static_cast<size_t>(sequences), 0);
    adapter_scales_.resize(static_cast<size_t>(sequences));
  }

  int count() const { return static_cast<int>(positions_.size()); }
  // Every sequence's adapter scales (Engine::set_adapter_scales), one per adapter.
  void set_default_adapter_scales(const std::vector<float>& scales) {
    adapter_scales_.assign(positions_.size(), scales);
  }
  void set_adapter_scales(int sequence, std::span<const float> scales) {
    std::vector<float>& held = adapter_scales_[index(sequence)];
    if (scales.size() != held.size())
      fail("{} adapter scales given; the engine has {} adapters", scales.size(), held.size());
    for (float s : scales)
      if (!std::isfinite(s)) fail("adapter scale {} is not a finite number", s);
    held.assign(scales.begin(), scales.end());
  }
  std::span<const float> adapter_scales(int sequence) const {
    return adapter_scales_[index(sequence)];
  }
  int64_t context() const { return context_; }
  int64_t position(int sequence) const { return positions_[index(sequence)]; }
  void reset(int sequence) { positions_[index(sequence)] = 0; }
  void truncate(int sequence, int64_t position) {
    int64_t& p = positions_[index(sequence)];
    p = std::clamp<int64_t>(position, 0, p);
  }

  // KV caches are laid out [sequence][layer][position], one row per token and layer: the
  // memory is sequences x context x one token's rows of every layer.
  int64_t cache_rows() const { return count() * layers_ * context_; }
  int64_t cache_row(int sequence, int64_t layer, int64_t position) const {
    return (sequence * layers_ + layer) * context_ + position;
  }

  // Checks the whole batch first, so that a bad entry advances nothing. Then calls
  // forward(micro_batch, logits_out) on consecutive micro-batches of at most `micro_batch`
  // tokens taken from the entries in order: logits_out is where the micro-batch's first token
  // that asks for logits writes its row, the micro-batch's other such tokens following it.
  // Then advances the listed sequences and returns every row asked for, in order.
  template <typename Forward>
  std::span<const float> step(std::span<const SequenceTokens> batch, int64_t micro_batch,
                              Forward&& forward) {
    std::fill(listed_.begin(), listed_.end(), 0);
    for (const SequenceTokens& entry : batch) {
      const size_t s = index(entry.sequence);
      if (listed_[s]) fail("sequence {} is listed twice in one step", entry.sequence);
      listed_[s] = 1;
      const auto n = static_cast<int64_t>(entry.tokens.size());
      if (positions_[s] + n > context_)
        fail("context overflow: sequence {}: {} tokens at position {} exceed the {}-token context",
             entry.sequence, n, positions_[s], context_);
      for (int32_t id : entry.tokens)
        if (id < 0 || id >= vocab_)
          fail("token id {} is outside the vocabulary (0..{})", id, vocab_ - 1);
    }

    tokens_.clear();
    int64_t rows = 0;
    for (const SequenceTokens& entry : batch) {
      const auto n = static_cast<int64_t>(entry.tokens.size());
      const int64_t first = positions_[index(entry.sequence)];
      for (int64_t i = 0; i < n; ++i) {
        const bool logits = entry.all_logits || i == n - 1;
        tokens_.push_back(
            {entry.tokens[static_cast<size_t>(i)], entry.sequence, first + i, logits});
        rows += logits;
      }
    }
    logits_.resize(static_cast<size_t>(rows * vocab_));

    const std::span<const StepToken> all(tokens_);
    float* out = logits_.data();
    for (size_t begin = 0; begin < all.size(); begin += static_cast<size_t>(micro_batch)) {
      const auto part =
          all.subspan(begin, std::min(all.size() - begin, static_cast<size_t>(micro_batch)));
      forward(part, out);
      out += std::ranges::count_if(part, &StepToken::logits) * vocab_;
    }
    for (const SequenceTokens& entry : batch)
      positions_[index(entry.sequence)] += static_cast<int64_t>(entry.tokens.size());
    return logits_;
  }

 private:
  size_t index(int sequence) const {
    if (sequence < 0 || sequence >= count())
      fail("unknown sequence {} (the engine has sequences 0..{})", sequence, count() - 1);
    return static_cast<size_t>(sequence);
  }

  int64_t context_, layers_, vocab_;
  std::vector<int64_t> positions_;
  std::vector<std::vector<float>> adapter_scales_;  // [sequence][adapter]
  std::vector<uint8_t> listed_;                     // per sequence, while a step is checked
  std::vector<StepToken> tokens_;
  std::vector<float> logits_;
};

}  // namespace etch::run
