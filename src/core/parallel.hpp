#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace etch {

// A fixed set of worker threads that runs one data-parallel loop at a time. The calling
// thread takes part, so a pool of N threads has N-1 workers. An engine issues dozens of
// loops per token, so hand-off is by spinning on atomics (falling back to sleeping on them
// after a short while) rather than by condition variables, whose wake-up latency would
// dominate small models.
class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls body(begin, end) over disjoint chunks covering [0, count); returns when all are done.
  // Chunks are static (thread i takes the i-th slice), so results never depend on timing.
  void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& body);

  // Number of threads to use when the user did not say: the hardware's, at least 1.
  static int default_threads();

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  int64_t count_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace etch
