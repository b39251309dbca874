#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "run/run.hpp"

namespace etch::run {

// std::max_element's index in two vectorized passes (compilers vectorize neither max_element
// nor one pass that tracks the index): the largest value in 16 lanes, then its first index 16 at
// a time. As in max_element, a NaN wins only as the first element, and of equal values (-0 and
// +0 too) the first wins.
int32_t argmax(std::span<const float> logits) {
  typedef float F4 __attribute__((vector_size(16)));
  typedef int32_t I4 __attribute__((vector_size(16)));
  constexpr size_t kVectors = 4, kLanes = 4 * kVectors;
  const size_t n = logits.size();
  if (n == 0 || std::isnan(logits[0])) return 0;
  const auto at = [&](size_t i) {
    F4 v;
    std::memcpy(&v, logits.data() + i, sizeof v);
    return v;
  };
  F4 lanes[kVectors];
  for (F4& lane : lanes) lane = F4{} + logits[0];
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t v = 0; v < kVectors; ++v) {
      const F4 x = at(i + 4 * v);
      lanes[v] = x > lanes[v] ? x : lanes[v];
    }
  float best = logits[0];
  for (const F4& lane : lanes)
    for (int l = 0; l < 4; ++l) best = lane[l] > best ? lane[l] : best;
  for (; i < n; ++i) best = logits[i] > best ? logits[i] : best;
  size_t first = 0;
  for (; first + kLanes <= n; first += kLanes) {
    I4 found = {};
    for (size_t v = 0; v < kVectors; ++v) found |= at(first + 4 * v) == best;
    if (found[0] | found[1] | found[2] | found[3]) break;
  }
  while (logits[first] != best) ++first;
  return static_cast<int32_t>(first);
}

double log_softmax_at(std::span<const float> logits, int32_t target) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  return static_cast<double>(logits[static_cast<size_t>(target)]) - max - std::log(sum);
}

Sampler::Sampler(SamplingParams params) : params_(params), rng_(params.seed) {}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  candidates_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) candidates_[i] = {static_cast<int32_t>(i), logits[i]};

  const bool penalised = params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                         params_.presence_penalty != 0.0f;
  if (penalised && params_.repeat_last_n != 0) {
    const size_t window =
        params_.repeat_last_n < 0
            ? history.size()
            : std::min(history.size(), static_cast<size_t>(params_.repeat_last_n));
    std::unordered_map<int32_t, int> occurrences;
    for (auto it = history.end() - static_cast<long>(window); it != history.end(); ++it)
      ++occurrences[*it];
    for (const auto& [id, count] : occurrences) {
      if (id < 0 || static_cast<size_t>(id) >= candidates_.size()) continue;
      float& l = candidates_[static_cast<size_t>(id)].logit;
      if (params_.repeat_penalty != 1.0f)
        l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
      l -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
    }
  }

  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  if (params_.temperature <= 0.0f)
    return std::min_element(candidates_.begin(), candidates_.end(), by_logit)->id;

  size_t keep = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) {
    keep = static_cast<size_t>(params_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<long>(keep),
                      candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  candidates_.resize(keep);

  // Probabilities at temperature 1 decide top-p and min-p, as in llama.cpp's default chain.
  std::vector<double> probs(keep);
  const double max = candidates_.front().logit;
  double sum = 0;
  for (size_t i = 0; i < keep; ++i) sum += probs[i] = std::exp(candidates_[i].logit - max);
  if (params_.top_p < 1.0f) {
    double cumulative = 0;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probs[i] / sum;
      if (cumulative >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  if (params_.min_p > 0.0f) {
    size_t i = 1;
    while (i < keep && probs[i] >= params_.min_p) ++i;  // probs[0] is 1 relative to itself
    keep = i;
  }

  double total = 0;
  std::vector<double> weights(keep);
  for (size_t i = 0; i < keep; ++i)
    total += weights[i] = std::exp((candidates_[i].logit - max) / params_.temperature);
  // 53 random bits give a uniform double in [0, 1) the same way on every platform.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * total;
  double cumulative = 0;
  for (size_t i = 0; i < keep; ++i) {
    cumulative += weights[i];
    if (u < cumulative) return candidates_[i].id;
  }
  return candidates_[keep - 1].id;
}

}  // namespace etch::run
