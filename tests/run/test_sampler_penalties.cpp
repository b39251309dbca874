// OpenAI's frequency and presence penalties in the sampler, checked through greedy choices
// whose winner each penalty flips by a margin worked out by hand.
#include <gtest/gtest.h>

#include <vector>

#include "run/run.hpp"

namespace etch::run {
namespace {

int32_t greedy(SamplingParams params, const std::vector<float>& logits,
               const std::vector<int32_t>& history) {
  params.temperature = 0;
  Sampler sampler(params);
  return sampler.sample(logits, history);
}

const std::vector<float> kLogits = {1.0f, 0.9f, 0.5f};

TEST(SamplerPenalties, FrequencyPenaltyGrowsWithEachOccurrence) {
  // Token 0 seen twice: 1.0 - 2 x 0.04 = 0.92 still beats 0.9; 1.0 - 2 x 0.06 = 0.88 does not.
  EXPECT_EQ(greedy({.frequency_penalty = 0.04f}, kLogits, {0, 0}), 0);
  EXPECT_EQ(greedy({.frequency_penalty = 0.06f}, kLogits, {0, 0}), 1);
  EXPECT_EQ(greedy({.frequency_penalty = 0.06f}, kLogits, {0}), 0);  // once: 0.94
}

TEST(SamplerPenalties, PresencePenaltyCountsOnce) {
  // Token 0 seen three times loses 0.08 once: 0.92 beats 0.9; 0.12 makes it 0.88.
  EXPECT_EQ(greedy({.presence_penalty = 0.08f}, kLogits, {0, 0, 0}), 0);
  EXPECT_EQ(greedy({.presence_penalty = 0.12f}, kLogits, {0, 0, 0}), 1);
  // A negative penalty favours what was seen: 0.5 + 0.6 = 1.1 beats 1.0.
  EXPECT_EQ(greedy({.presence_penalty = -0.6f}, kLogits, {2}), 2);
}

TEST(SamplerPenalties, LookOnlyAtTheRepeatWindow) {
  // With a window of one token only the last (2) is penalised, so token 0 keeps its lead.
  EXPECT_EQ(greedy({.repeat_last_n = 1, .frequency_penalty = 1.0f}, kLogits, {0, 2}), 0);
  EXPECT_EQ(greedy({.repeat_last_n = 2, .frequency_penalty = 1.0f}, kLogits, {0, 2}), 1);
}

}  // namespace
}  // namespace etch::run
