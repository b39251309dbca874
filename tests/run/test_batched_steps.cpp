// Engines with many sequences: a sequence's logits, bit for bit, do not depend on what else is
// in its steps, on the thread count or on how its tokens were cut into steps. The oracle is
// each sequence run alone, whole prompt then one token at a time, in an engine of one sequence
// at one thread. Both engines: the float engine on kjv-8m, the integer engine on the tiny
// model compiled by the test.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "compile/compile.hpp"
#include "tiny_model.hpp"
#include "core/error.hpp"
#include "run/run.hpp"
#include "test_support.hpp"

namespace etch {
namespace {

using Ids = std::vector<int32_t>;
using Rows = std::vector<std::vector<float>>;  // logits by position

// The engines' micro-batch: schedules below cut across it.
constexpr int64_t kMicroBatch = 64;
constexpr int64_t kContext = 160;
constexpr int kSequences = 8;
constexpr int kDecodeSteps = 4;

struct EngineKind {
  std::string name;
  std::function<std::unique_ptr<run::Engine>(int threads, int sequences)> make;
};

void PrintTo(const EngineKind& kind, std::ostream* os) {
  *os << kind.name;
}

// Models load on first use, not when the tests are listed.
EngineKind float_engine() {
  return {"float", [](int threads, int sequences) -> std::unique_ptr<run::Engine> {
            static const import::Model model =
                import::load_model((testing::model_dir("kjv-8m") / "kjv-8m-bf16.gguf").string());
            return std::make_unique<run::FloatEngine>(
                model, run::EngineOptions{
                           .threads = threads, .context = kContext, .sequences = sequences});
          }};
}

EngineKind integer_engine() {
  return {
      "integer", [](int threads, int sequences) -> std::unique_ptr<run::Engine> {
        static const std::string path = [] {
          static testing::TinyModel tiny;
          tiny.model.config.context_length = kContext;  // RoPE tables for the longest prompt
          const auto file = testing::temp_dir("etch") / "batched-hc1.etch";
          compile::BuildOptions options;
          options.recipe = "hc1";
          options.threads = 2;
          compile::build(tiny.model, nullptr, options, file.string());
          return file.string();
        }();
        return std::make_unique<run::IntegerEngine>(
            compile::read_etch(path),
            run::EngineOptions{.threads = threads, .context = kContext, .sequences = sequences});
      }};
}

// Eight prompts of different lengths: one token, several shorter than a micro-batch, two
// longer than one; then the tokens fed one at a time as decode steps.
struct Workload {
  std::vector<Ids> prompts, decoded;
};

Workload workload(int64_t vocab) {
  const int lengths[kSequences] = {3, 17, 70, 1, 33, 96, 8, 50};
  Workload w;
  for (int s = 0; s < kSequences; ++s) {
    Ids prompt, decoded;
    for (int i = 0; i < lengths[s]; ++i)
      prompt.push_back(static_cast<int32_t>(3 + (i * 7 + s * 13) % (vocab - 3)));
    for (int i = 0; i < kDecodeSteps; ++i)
      decoded.push_back(static_cast<int32_t>(3 + (i * 11 + s * 5 + 1) % (vocab - 3)));
    w.prompts.push_back(prompt);
    w.decoded.push_back(decoded);
  }
  return w;
}

std::vector<float> row(std::span<const float> logits, size_t index, int64_t vocab) {
  const auto v = static_cast<size_t>(vocab);
  return {logits.begin() + static_cast<ptrdiff_t>(index * v),
          logits.begin() + static_cast<ptrdiff_t>((index + 1) * v)};
}

// Logits at every position of `prompt` then `decoded`, the sequence alone in its engine.
Rows alone(const EngineKind& kind, const Ids& prompt, const Ids& decoded) {
  const auto engine = kind.make(1, 1);
  const int64_t vocab = engine->config().vocab_size;
  Rows rows;
  const auto logits = engine->eval(prompt, true);
  for (size_t i = 0; i < prompt.size(); ++i) rows.push_back(row(logits, i, vocab));
  for (int32_t id : decoded) rows.push_back(row(engine->eval({&id, 1}, false), 0, vocab));
  return rows;
}

bool same_bits(const std::vector<float>& a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), b.size_bytes()) == 0;
}

class BatchedSteps : public ::testing::TestWithParam<EngineKind> {
 protected:
  void SetUp() override {
    vocab_ = GetParam().make(1, 1)->config().vocab_size;
    work_ = workload(vocab_);
    for (int s = 0; s < kSequences; ++s)
      reference_.push_back(alone(GetParam(), work_.prompts[s], work_.decoded[s]));
  }

  // Feeds every prompt in chunks (chunk(sequence, step) tokens at a time; sequence s joins at
  // step start(s)), asking for every row of even chunks and the last row of odd ones, then
  // decodes every sequence one token a step. Each returned row must equal the row of the
  // sequence alone at that position. Returns how many rows were compared.
  int64_t run_schedule(int threads, const std::function<int64_t(int, int)>& chunk,
                       const std::function<int(int)>& start) {
    const auto engine = GetParam().make(threads, kSequences);
    std::vector<size_t> fed(kSequences, 0);
    int64_t compared = 0;
    auto check = [&](const std::vector<run::SequenceTokens>& batch) {
      const auto logits = engine->step(batch);
      size_t r = 0;
      for (const auto& entry : batch) {
        const auto n = static_cast<int64_t>(entry.tokens.size());
        const int64_t first = engine->sequence_position(entry.sequence) - n;
        for (int64_t i = entry.all_logits ? 0 : n - 1; i < n; ++i, ++r) {
          const auto& expected =
              reference_[static_cast<size_t>(entry.sequence)][static_cast<size_t>(first + i)];
          EXPECT_TRUE(same_bits(expected, logits.subspan(r * vocab_, vocab_)))
              << "sequence " << entry.sequence << " position " << first + i;
          ++compared;
        }
      }
      EXPECT_EQ(r * vocab_, logits.size());
    };

    for (int step = 0;; ++step) {
      std::vector<run::SequenceTokens> batch;
      bool pending = false;
      for (int s = 0; s < kSequences; ++s) {
        const Ids& prompt = work_.prompts[s];
        pending |= fed[s] < prompt.size();
        if (step < start(s) || fed[s] == prompt.size()) continue;
        const auto n = std::min<size_t>(prompt.size() - fed[s], chunk(s, step));
        batch.push_back({.sequence = s,
                         .tokens = std::span<const int32_t>(prompt).subspan(fed[s], n),
                         .all_logits = step % 2 == 0});
        fed[s] += n;
      }
      if (!pending) break;
      check(batch);
    }
    for (int i = 0; i < kDecodeSteps; ++i) {
      std::vector<run::SequenceTokens> batch;
      // Listed in reverse, so the order of entries differs from the prompts'.
      for (int s = kSequences - 1; s >= 0; --s)
        batch.push_back({.sequence = s, .tokens = {&work_.decoded[s][i], 1}});
      check(batch);
    }
    return compared;
  }

  int64_t vocab_ = 0;
  Workload work_;
  std::vector<Rows> reference_;
};

TEST_P(BatchedSteps, WholePromptsTogetherEqualEachAlone) {
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    // All prompts in one step (278 tokens: several micro-batches, each mixing sequences).
    const int64_t rows = run_schedule(
        threads, [](int, int) { return kContext; }, [](int) { return 0; });
    EXPECT_GE(rows, kSequences * (1 + kDecodeSteps));
  }
}

TEST_P(BatchedSteps, ChunkedAndStaggeredPromptsEqualEachAlone) {
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    // Chunks of 1 to 7 tokens varying by sequence and step, sequences joining one step apart,
    // so that prompt chunks and other sequences' first tokens share steps.
    run_schedule(
        threads, [](int s, int step) { return 1 + (s * 3 + step) % 7; }, [](int s) { return s; });
    // Chunks longer than a micro-batch, crossing micro-batch boundaries within one sequence.
    run_schedule(
        threads, [](int s, int) { return kMicroBatch + 1 + s; }, [](int s) { return s % 2; });
  }
}

TEST_P(BatchedSteps, BadStepsAdvanceNothing) {
  const auto engine = GetParam().make(2, 3);
  const Ids& a = work_.prompts[4];  // 33 tokens
  const Ids& b = work_.prompts[2];  // 70 tokens
  const std::span<const int32_t> a5(a.data(), 5), b10(b.data(), 10);
  engine->step(std::vector<run::SequenceTokens>{{.sequence = 0, .tokens = a5},
                                                {.sequence = 1, .tokens = b10}});
  const Ids overflow(static_cast<size_t>(kContext - 9), 3);
  const int32_t outside = static_cast<int32_t>(vocab_);
  const std::span<const int32_t> a_next(a.data() + 5, 4);
  const std::vector<std::vector<run::SequenceTokens>> bad = {
      {{.sequence = 0, .tokens = a_next}, {.sequence = 3, .tokens = b10}},
      {{.sequence = 0, .tokens = a_next}, {.sequence = -1, .tokens = b10}},
      {{.sequence = 0, .tokens = a_next},
       {.sequence = 2, .tokens = b10},
       {.sequence = 0, .tokens = {}}},
      {{.sequence = 0, .tokens = a_next}, {.sequence = 1, .tokens = overflow}},
      {{.sequence = 0, .tokens = a_next}, {.sequence = 2, .tokens = {&outside, 1}}},
  };
  for (const auto& batch : bad) {
    EXPECT_THROW(engine->step(batch), Error);
    EXPECT_EQ(engine->sequence_position(0), 5);
    EXPECT_EQ(engine->sequence_position(1), 10);
    EXPECT_EQ(engine->sequence_position(2), 0);
  }
  EXPECT_THROW(engine->reset_sequence(3), Error);
  EXPECT_THROW(engine->truncate_sequence(-1, 0), Error);
  EXPECT_THROW(engine->sequence_position(3), Error);

  // The caches were not touched either: both sequences continue as if alone.
  const auto logits = engine->step(std::vector<run::SequenceTokens>{
      {.sequence = 1, .tokens = {b.data() + 10, 1}}, {.sequence = 0, .tokens = a_next}});
  EXPECT_TRUE(same_bits(reference_[2][10], logits.subspan(0, vocab_)));
  EXPECT_TRUE(same_bits(reference_[4][8], logits.subspan(vocab_, vocab_)));
}

TEST_P(BatchedSteps, ResetAndTruncateTouchOneSequence) {
  const auto engine = GetParam().make(2, 3);
  const std::span<const int32_t> p0(work_.prompts[4]), p1(work_.prompts[1]), p2(work_.prompts[6]);
  engine->step(std::vector<run::SequenceTokens>{{.sequence = 0, .tokens = p0.first(20)},
                                                {.sequence = 1, .tokens = p1},
                                                {.sequence = 2, .tokens = p2}});
  // Sequence 1 rewinds to 9 tokens and takes another continuation; sequence 2 starts over
  // with another prompt; sequence 0 goes on with its own.
  engine->truncate_sequence(1, 9);
  engine->reset_sequence(2);
  EXPECT_EQ(engine->sequence_position(0), 20);
  EXPECT_EQ(engine->sequence_position(1), 9);
  EXPECT_EQ(engine->sequence_position(2), 0);
  const Ids continuation = {5, 6, 7, 8};
  const std::span<const int32_t> p3(work_.prompts[0]);
  const auto logits = engine->step(std::vector<run::SequenceTokens>{
      {.sequence = 2, .tokens = p3, .all_logits = true},
      {.sequence = 0, .tokens = p0.subspan(20), .all_logits = true},
      {.sequence = 1, .tokens = continuation, .all_logits = true}});

  Ids rewound(p1.begin(), p1.begin() + 9);
  rewound.insert(rewound.end(), continuation.begin(), continuation.end());
  const Rows expected1 = alone(GetParam(), rewound, {});
  size_t r = 0;
  for (size_t i = 0; i < p3.size(); ++i, ++r)
    EXPECT_TRUE(same_bits(reference_[0][i], logits.subspan(r * vocab_, vocab_))) << i;
  for (size_t i = 20; i < p0.size(); ++i, ++r)
    EXPECT_TRUE(same_bits(reference_[4][i], logits.subspan(r * vocab_, vocab_))) << i;
  for (size_t i = 9; i < rewound.size(); ++i, ++r)
    EXPECT_TRUE(same_bits(expected1[i], logits.subspan(r * vocab_, vocab_))) << i;
  EXPECT_EQ(r * vocab_, logits.size());
}

TEST_P(BatchedSteps, EmptyEntriesGiveNoRowsAndSequencesMustExist) {
  const auto engine = GetParam().make(1, 2);
  const auto logits = engine->step(
      std::vector<run::SequenceTokens>{{.sequence = 1, .tokens = {}, .all_logits = true},
                                       {.sequence = 0, .tokens = {work_.prompts[0]}}});
  EXPECT_EQ(logits.size(), static_cast<size_t>(vocab_));
  EXPECT_TRUE(same_bits(reference_[0][2], logits));
  EXPECT_EQ(engine->sequence_position(1), 0);
  EXPECT_THROW(GetParam().make(1, 0), Error);
}

INSTANTIATE_TEST_SUITE_P(Engines, BatchedSteps, ::testing::Values(float_engine(), integer_engine()),
                         [](const auto& info) { return info.param.name; });

// The KV cache is one context per sequence.
TEST(FloatEngine, KvCacheGrowsWithSequences) {
  const import::Model model =
      import::load_model((testing::model_dir("rand-tied-mha") / "rand-tied-mha-f32.gguf").string());
  const run::FloatEngine one(model, {.threads = 1, .context = 32});
  const run::FloatEngine eight(model, {.threads = 1, .context = 32, .sequences = 8});
  const auto& c = model.config;
  EXPECT_EQ(one.kv_cache_bytes(),
            static_cast<uint64_t>(2 * c.layers * 32 * c.kv_heads * c.head_dim * sizeof(float)));
  EXPECT_EQ(eight.kv_cache_bytes(), 8 * one.kv_cache_bytes());
}

}  // namespace
}  // namespace etch
