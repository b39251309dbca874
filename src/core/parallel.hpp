#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace etch {

// A loop body as parallel_for takes it: a reference to any callable body(begin, end), which must
// outlive the call. Unlike std::function it never allocates: a lambda of many captures would
// cost an allocation per loop, dozens per decoded token.
class LoopBody {
 public:
  template <typename Body>
  LoopBody(const Body& body)  // implicit: a lambda converts where the call takes it
      : body_(&body), call_([](const void* b, int64_t begin, int64_t end) {
          (*static_cast<const Body*>(b))(begin, end);
        }) {}
  void operator()(int64_t begin, int64_t end) const { call_(body_, begin, end); }

 private:
  const void* body_;
  void (*call_)(const void*, int64_t, int64_t);
};

// A fixed set of worker threads that runs one data-parallel loop at a time. The calling
// thread takes part, so a pool of N threads has N-1 workers. An engine issues dozens of
// loops per token, so a waiting thread spins for a few microseconds before it sleeps on a
// futex (std::atomic::wait), and a loop's chunks are claimed, not assigned: when another
// process holds a core and a worker is not running, the caller takes the worker's chunks
// instead of waiting for it to be scheduled, and when it still waited longer for a descheduled
// worker than it computed itself, or the workers ran few of a window's chunks, it runs the next
// loops alone (the workers asleep), so N threads are never much slower than one.
class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls body(begin, end) over disjoint chunks covering [0, count); returns when all are done.
  // Each chunk runs start to end on one thread, so results that are computed per index never
  // depend on timing (the chunk bounds do: a loop the caller runs alone is one chunk).
  void parallel_for(int64_t count, LoopBody body);

  // Number of threads to use when the user did not say: the hardware's, at least 1.
  static int default_threads();

 private:
  void worker_loop();
  // Claims and runs chunks of the loop `generation` until none is left; returns how many it ran.
  int64_t run_chunks(uint32_t generation);
  // After a loop of `used` chunks, `own` of them run by the caller: whether the caller runs the
  // next loops alone (see kSerialLoops).
  void judge_loop(uint32_t used, int64_t own, bool waited_long);

  std::vector<std::thread> workers_;
  // Set by the caller before it publishes a loop's claim word; read by a thread only after it
  // claimed a chunk of that loop.
  const LoopBody* body_ = nullptr;
  int64_t count_ = 0;
  int64_t grain_ = 0;
  // The loop being run: generation (high 32 bits), next chunk (16 bits), chunk count (low 16
  // bits). A thread claims a chunk by compare-exchange, so a thread that wakes late for a
  // finished loop finds no chunk left and cannot touch the next loop's state.
  std::atomic<uint64_t> claim_{0};
  std::atomic<uint32_t> generation_{0};  // workers sleep on it
  std::atomic<uint32_t> sleeping_workers_{0};
  std::atomic<uint32_t> chunks_done_{0};  // the caller sleeps on it
  std::atomic<uint32_t> caller_sleeping_{0};
  std::atomic<bool> stopping_{false};
  // Loops the caller runs alone after two loops in a row in which it waited for a worker longer
  // than it computed itself (one alone is a worker waking slowly from sleep), or after a window of
  // loops in which the workers ran few chunks: about ten decoded tokens of a small model, after
  // which the workers get another try; doubled after each try that fails again, halved after each
  // window that goes well.
  static constexpr int kSerialLoops = 512;
  // Loops left for the caller to run alone, and how many the next slow worker costs (only the
  // caller reads or writes them).
  int serial_loops_ = 0;
  int serial_backoff_ = kSerialLoops;
  bool waited_long_before_ = false;  // in the previous judged loop
  // The loops, chunks and caller's chunks of the window being judged (the caller's too).
  int window_loops_ = 0;
  int64_t window_chunks_ = 0, window_own_ = 0;
};

}  // namespace etch
