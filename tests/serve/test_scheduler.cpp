#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "run/pipeline.hpp"
#include "run/session.hpp"
#include "serve/scheduler.hpp"
#include "test_support.hpp"

namespace etch::serve {
namespace {

using namespace std::chrono_literals;

const std::string& model_path() {
  static const std::string path = (testing::model_dir("kjv-8m") / "kjv-8m-q8_0.gguf").string();
  return path;
}

Job job_for(const tokenize::Tokenizer& tokenizer, const std::string& text, int64_t max_tokens,
            uint64_t seed) {
  Job job;
  job.prompt = tokenizer.encode(text, true);
  job.generation.max_tokens = max_tokens;
  job.sampling.seed = seed;
  return job;
}

// Reads a request to its end; the tokens it generated, with its final update.
std::vector<int32_t> collect(Request& request, Update& last) {
  std::vector<int32_t> tokens;
  do {
    last = request.take(1000ms);
    tokens.insert(tokens.end(), last.tokens.begin(), last.tokens.end());
  } while (!last.done);
  return tokens;
}

// The oracle: the same generation on an engine of its own, one sequence, driven by
// Session::step with nothing else running.
std::vector<int32_t> alone(const run::LoadedModel& model, const tokenize::Tokenizer& tokenizer,
                           const Job& job) {
  const auto engine = model.engine({.threads = 1, .sequences = 1});
  run::Session session(*engine, tokenizer);
  run::Sampler sampler(job.sampling);
  session.start(job.prompt, job.generation, sampler);
  while (session.running()) session.step();
  return {session.generated().begin(), session.generated().end()};
}

TEST(Scheduler, SameSeedGivesTheSameTokensWhateverElseRuns) {
  const run::LoadedModel model(model_path());
  const tokenize::Tokenizer tokenizer(model.vocab());
  const Job probe = job_for(tokenizer, "And God said, Let there be light", 24, 7);
  const std::vector<int32_t> expected = alone(model, tokenizer, probe);
  ASSERT_EQ(expected.size(), 24u);

  const auto engine = model.engine({.threads = 2, .sequences = 4});
  // A small prompt chunk so the others' prompts are fed over many steps beside the probe.
  Scheduler scheduler(*engine, tokenizer, {.queue_limit = 16, .prompt_chunk = 3});
  std::vector<std::shared_ptr<Request>> others;
  others.push_back(scheduler.submit(
      job_for(tokenizer, "In the beginning God created the heaven and the earth.", 40, 1)));
  others.push_back(scheduler.submit(job_for(tokenizer, "The LORD is my shepherd", 16, 2)));
  const std::shared_ptr<Request> request = scheduler.submit(probe);
  others.push_back(scheduler.submit(job_for(tokenizer, "Blessed are the meek", 30, 3)));
  others.push_back(scheduler.submit(job_for(tokenizer, "Jesus wept.", 20, 4)));  // queued
  Update last;
  EXPECT_EQ(collect(*request, last), expected);
  EXPECT_EQ(last.reason, run::StopReason::kLength);
  EXPECT_EQ(last.counts.generated, 24);
  EXPECT_EQ(last.counts.prompt, static_cast<int64_t>(probe.prompt.size()));
  for (const auto& other : others) collect(*other, last);

  // Again, now that the slots' caches hold other prompts and a different mix runs beside it.
  const std::shared_ptr<Request> again = scheduler.submit(probe);
  const std::shared_ptr<Request> beside =
      scheduler.submit(job_for(tokenizer, "And God said", 50, 9));
  EXPECT_EQ(collect(*again, last), expected);
  collect(*beside, last);
}

// Each request chooses its adapter: side by side in one engine, and again on slots whose
// caches were filled with the other choice, greedy generations give the fixtures' references of
// kjv-8m with and without the lora-r8 adapter.
TEST(Scheduler, EachRequestChoosesItsAdapter) {
  const auto dir = testing::model_dir("kjv-8m");
  const run::LoadedModel model((dir / "hf").string(), {{(dir / "lora-r8").string(), 1.0f}});
  ASSERT_EQ(model.adapters().size(), 1u);
  EXPECT_EQ(model.adapters()[0].name, "lora-r8");
  const tokenize::Tokenizer tokenizer(model.vocab());
  auto greedy = [](const std::filesystem::path& reference) {
    const auto prompt = testing::read_json(reference)["prompts"][0];
    Job job;
    job.prompt = prompt["ids"].get<std::vector<int32_t>>();
    job.generation.max_tokens = 24;
    job.generation.ignore_eos = true;
    job.sampling.temperature = 0;
    const auto ids = prompt["greedy_ids"].get<std::vector<int32_t>>();
    return std::pair{job, std::vector<int32_t>(ids.begin(), ids.begin() + 24)};
  };
  auto [adapted, adapted_ids] = greedy(dir / "lora-r8" / "reference.json");
  auto [base, base_ids] = greedy(dir / "ref" / "reference.json");
  adapted.generation.adapter_scales = std::vector<float>{1.0f};
  base.generation.adapter_scales = std::vector<float>{0.0f};

  const auto engine = model.engine({.threads = 2, .sequences = 2});
  Scheduler scheduler(*engine, tokenizer, {.queue_limit = 8, .prompt_chunk = 2});
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    const auto a = scheduler.submit(adapted);
    const auto b = scheduler.submit(base);
    Update last;
    EXPECT_EQ(collect(*a, last), adapted_ids);
    EXPECT_EQ(collect(*b, last), base_ids);
    std::swap(adapted, base);
    std::swap(adapted_ids, base_ids);
  }
}

TEST(Scheduler, RefusesPastTheQueueLimit) {
  const run::LoadedModel model(model_path());
  const tokenize::Tokenizer tokenizer(model.vocab());
  const auto engine = model.engine({.threads = 1, .sequences = 1});
  Scheduler scheduler(*engine, tokenizer, {.queue_limit = 1});
  std::vector<std::shared_ptr<Request>> accepted;
  int refused = 0;
  for (int i = 0; i < 6; ++i) {
    auto request = scheduler.submit(job_for(tokenizer, "And God said", 200, 1));
    if (request)
      accepted.push_back(request);
    else
      ++refused;
  }
  // One runs, at most one waits; the rest are refused.
  EXPECT_GE(refused, 4);
  EXPECT_EQ(scheduler.stats().rejected, refused);
  for (auto& request : accepted) request->cancel();
}

TEST(Scheduler, CancelFreesTheSlotForTheNextRequest) {
  const run::LoadedModel model(model_path());
  const tokenize::Tokenizer tokenizer(model.vocab());
  const auto engine = model.engine({.threads = 1, .sequences = 1});
  Scheduler scheduler(*engine, tokenizer, {.queue_limit = 4});
  const auto endless = scheduler.submit(job_for(tokenizer, "And God said", 900, 1));
  ASSERT_TRUE(endless->wait_started(10s));
  const auto waiting = scheduler.submit(job_for(tokenizer, "The LORD", 4, 1));
  EXPECT_FALSE(waiting->wait_started(200ms));  // the only slot is taken
  endless->cancel();
  Update last;
  collect(*endless, last);
  EXPECT_EQ(last.reason, run::StopReason::kCancelled);
  EXPECT_LT(last.counts.generated, 900);
  EXPECT_EQ(collect(*waiting, last).size(), 4u);
}

TEST(Scheduler, DeadlineEndsRunningAndWaitingRequests) {
  const run::LoadedModel model(model_path());
  const tokenize::Tokenizer tokenizer(model.vocab());
  const auto engine = model.engine({.threads = 1, .sequences = 1});
  Scheduler scheduler(*engine, tokenizer, {.queue_limit = 4});
  Job running = job_for(tokenizer, "And God said", 900, 1);
  running.deadline = Clock::now() + 300ms;
  Job waiting = job_for(tokenizer, "The LORD", 4, 1);
  waiting.deadline = Clock::now() + 100ms;
  const auto first = scheduler.submit(running);
  const auto second = scheduler.submit(waiting);
  Update last;
  collect(*second, last);
  EXPECT_TRUE(last.expired);
  EXPECT_FALSE(last.error.empty());
  collect(*first, last);
  EXPECT_TRUE(last.expired);
  EXPECT_TRUE(last.error.empty());
  EXPECT_LT(last.counts.generated, 900);
}

}  // namespace
}  // namespace etch::serve
