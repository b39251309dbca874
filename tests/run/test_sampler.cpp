#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "run/run.hpp"

namespace etch {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.5f, -1.0f, 0.0f, 2.9f};

TEST(Sampler, GreedyPicksTheLargestLogit) {
  run::Sampler s({.temperature = 0});
  EXPECT_EQ(s.sample(kLogits, {}), 1);
  EXPECT_EQ(run::argmax(kLogits), 1);
}

// argmax is std::max_element's index on any logits: ties (-0 and +0 among them) to the first,
// NaN never after the first element, a NaN first element wins.
TEST(Sampler, ArgmaxIsMaxElementsIndex) {
  std::mt19937 rng(5);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const size_t n : {1, 2, 15, 16, 17, 31, 33, 100, 4096, 4099})
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<float> logits(n);
      const int values = 1 + static_cast<int>(rng() % 6);  // few distinct values: many ties
      for (float& l : logits) {
        const auto pick = rng() % 40;
        l = pick == 0   ? nan
            : pick == 1 ? -0.0f
            : pick == 2 ? 0.0f
                        : static_cast<float>(rng() % values) - 3.0f;
      }
      if (trial % 10 == 0) logits[0] = nan;
      const auto want = std::max_element(logits.begin(), logits.end()) - logits.begin();
      ASSERT_EQ(run::argmax(logits), want) << n << " " << trial;
    }
}

TEST(Sampler, SameSeedSameTokens) {
  run::SamplingParams p{.temperature = 1.5f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 7};
  run::Sampler a(p), b(p);
  std::vector<int32_t> xs, ys;
  for (int i = 0; i < 200; ++i) {
    xs.push_back(a.sample(kLogits, {}));
    ys.push_back(b.sample(kLogits, {}));
  }
  EXPECT_EQ(xs, ys);
  p.seed = 8;
  run::Sampler c(p);
  std::vector<int32_t> zs;
  for (int i = 0; i < 200; ++i) zs.push_back(c.sample(kLogits, {}));
  EXPECT_NE(xs, zs);
}

std::map<int32_t, int> histogram(run::SamplingParams p, int draws = 4000) {
  run::Sampler s(p);
  std::map<int32_t, int> h;
  for (int i = 0; i < draws; ++i) ++h[s.sample(kLogits, {})];
  return h;
}

TEST(Sampler, TopKKeepsOnlyTheKBest) {
  const auto h =
      histogram({.temperature = 1.0f, .top_k = 2, .top_p = 1.0f, .min_p = 0.0f, .seed = 1});
  EXPECT_EQ(h.size(), 2u);
  EXPECT_TRUE(h.count(1) && h.count(5));
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  // Softmax of kLogits: 3.0 -> .36, 2.9 -> .33, 2.5 -> .22, ... so p = 0.6 needs two tokens.
  const auto h =
      histogram({.temperature = 1.0f, .top_k = 0, .top_p = 0.6f, .min_p = 0.0f, .seed = 2});
  EXPECT_EQ(h.size(), 2u);
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  // exp(1 - 3) = 0.135 < 0.2: token 0 goes; exp(2.5 - 3) = 0.61 stays.
  const auto h =
      histogram({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.2f, .seed = 3});
  EXPECT_EQ(h.size(), 3u);
  EXPECT_FALSE(h.count(0));
}

TEST(Sampler, FrequenciesFollowTheTemperature) {
  const auto hot =
      histogram({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 4}, 20000);
  // P(token 1) = e^3 / sum e^l = 0.3547 at temperature 1.
  EXPECT_NEAR(hot.at(1) / 20000.0, 0.3547, 0.015);
  const auto cold =
      histogram({.temperature = 0.05f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 4}, 2000);
  EXPECT_GT(cold.at(1), 1650);  // P = 1 / (1 + e^-2 + ...) = 0.87
}

TEST(Sampler, RepetitionPenaltyDiscouragesRecentTokens) {
  run::Sampler s({.temperature = 0, .repeat_penalty = 2.0f});
  const std::vector<int32_t> history = {1};
  EXPECT_EQ(s.sample(kLogits, history), 5);  // 3.0 / 2 = 1.5 < 2.9
}

}  // namespace
}  // namespace etch
