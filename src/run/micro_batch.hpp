// Shared by every engine's eval(): input checks and the cut of a batch into micro-batches.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "core/error.hpp"

namespace etch::run {

// Checks `tokens` against the cache and the vocabulary, then calls
// forward(micro_batch, first_logit, logits_out) for consecutive micro-batches: logits of every
// token land in `logits` when all_logits, else only the last token's.
template <typename Forward>
std::span<const float> eval_in_micro_batches(std::span<const int32_t> tokens, bool all_logits,
                                             int64_t position, int64_t context, int64_t vocab,
                                             int64_t micro_batch, std::vector<float>& logits,
                                             Forward&& forward) {
  const auto n = static_cast<int64_t>(tokens.size());
  if (n == 0) return {};
  if (position + n > context)
    fail("context overflow: {} tokens at position {} exceed the {}-token context", n, position,
         context);
  for (int32_t id : tokens)
    if (id < 0 || id >= vocab) fail("token id {} is outside the vocabulary (0..{})", id, vocab - 1);
  logits.resize(static_cast<size_t>((all_logits ? n : 1) * vocab));
  for (int64_t begin = 0; begin < n; begin += micro_batch) {
    const int64_t count = std::min(micro_batch, n - begin);
    const auto batch = tokens.subspan(static_cast<size_t>(begin), static_cast<size_t>(count));
    if (all_logits) {
      forward(batch, 0, logits.data() + begin * vocab);
    } else {
      const bool last = begin + count == n;
      forward(batch, last ? count - 1 : count, logits.data());
    }
  }
  return logits;
}

}  // namespace etch::run
