// The server's scheduler: a bounded queue of requests and one engine whose sequences are its
// slots. Between engine steps, queued requests take free slots (continuous batching); each step
// feeds every running slot at once, prompts in chunks so a long prompt does not stall the
// others' decoding. It knows nothing of HTTP: a front end submits a Job, then reads the
// Request's updates and cancels it when its client goes away.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "run/run.hpp"
#include "run/session.hpp"
#include "tokenize/tokenize.hpp"

namespace etch::serve {

using Clock = std::chrono::steady_clock;

struct Job {
  std::vector<int32_t> prompt;  // at least one id, shorter than the engine's context
  run::GenerationOptions generation;
  run::SamplingParams sampling;
  Clock::time_point deadline = Clock::time_point::max();
};

// What a request has produced so far.
struct Update {
  std::string text;             // text released since the previous update
  std::vector<int32_t> tokens;  // tokens generated since the previous update
  bool started = false;         // it got its slot since the previous update
  bool done = false;            // it has ended; the fields below are final
  bool expired = false;         // it ended because its deadline passed
  run::StopReason reason = run::StopReason::kRunning;
  run::GenerationCounts counts;
  std::string error;  // not empty when it failed
};

// One submitted job, shared by the scheduler (which writes) and the front end (which reads).
class Request {
 public:
  // Waits until there is news or `timeout` passes, and takes it.
  Update take(std::chrono::milliseconds timeout);
  // Waits up to `timeout` until the request holds a slot or has ended (a deadline, a failure,
  // shutdown); true when it has.
  bool wait_started(std::chrono::milliseconds timeout);
  // Asks the scheduler to end it (its client went away); it ends within one engine step.
  void cancel();

 private:
  friend class Scheduler;
  std::mutex mutex_;
  std::condition_variable changed_;
  Update pending_;
  bool cancelled_ = false;
};

struct SchedulerOptions {
  int queue_limit = 64;       // requests waiting for a slot; submit() refuses past it
  int64_t prompt_chunk = 64;  // prompt tokens a slot feeds per engine step
};

struct SchedulerStats {
  int64_t requests = 0;       // submitted and accepted
  int64_t rejected = 0;       // refused because the queue was full
  int64_t prompt_tokens = 0;  // evaluated (reused cache prefixes not counted)
  int64_t generated_tokens = 0;
  int64_t steps = 0;        // engine steps
  double busy_seconds = 0;  // time spent in engine steps
  int busy_slots = 0;
  int queued = 0;
  int slots = 0;
};

class Scheduler {
 public:
  Scheduler(run::Engine& engine, const tokenize::Tokenizer& tokenizer, SchedulerOptions options);
  ~Scheduler();  // ends every request and stops the loop
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a job; nullptr when the queue is full.
  std::shared_ptr<Request> submit(Job job);
  SchedulerStats stats() const;

 private:
  struct Slot {
    std::unique_ptr<run::Session> session;
    std::optional<run::Sampler> sampler;
    std::shared_ptr<Request> request;
    Clock::time_point deadline;
  };
  struct Queued {
    Job job;
    std::shared_ptr<Request> request;
  };

  void loop();
  // Gives queued jobs the free slots, each the slot whose cache shares most of its prompt.
  void assign();  // with mutex_ held
  // Ends slots whose request was cancelled or whose deadline passed.
  void reap();
  void finish(Slot& slot, std::string text, const std::string& error, bool expired);

  run::Engine& engine_;
  const tokenize::Tokenizer& tokenizer_;
  SchedulerOptions options_;
  std::vector<Slot> slots_;

  mutable std::mutex mutex_;  // guards queue_, stop_ and stats_
  std::condition_variable wake_;
  std::vector<Queued> queue_;
  bool stop_ = false;
  SchedulerStats stats_;
  std::thread thread_;
};

}  // namespace etch::serve
