#include "core/parallel.hpp"

#include <algorithm>
#include <chrono>

namespace etch {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// About 10-30 µs of pause instructions: long enough to bridge the gap between consecutive
// loops of one forward pass, short enough not to steal much from another process.
constexpr int kSpins = 256;

// Loops the caller runs alone after one in which it waited for a worker longer than it computed
// itself: about ten decoded tokens of a small model, after which the workers get another try.
constexpr int kSerialLoops = 512;

// More chunks than threads, so that a thread that is not running leaves little for others to
// wait on; few enough that claiming stays cheap.
constexpr int64_t kChunksPerThread = 8;

}  // namespace

ThreadPool::ThreadPool(int threads) {
  const int n = std::max(1, threads);
  workers_.reserve(n - 1);
  for (int i = 1; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stopping_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

int ThreadPool::default_threads() {
  return std::max(1u, std::thread::hardware_concurrency());
}

void ThreadPool::run_chunks(uint32_t generation) {
  uint64_t word = claim_.load(std::memory_order_acquire);
  for (;;) {
    const auto next = static_cast<int64_t>((word >> 16) & 0xffff);
    const auto chunks = static_cast<int64_t>(word & 0xffff);
    if (static_cast<uint32_t>(word >> 32) != generation || next >= chunks) return;
    if (!claim_.compare_exchange_weak(word, word + (uint64_t{1} << 16), std::memory_order_acq_rel,
                                      std::memory_order_acquire))
      continue;
    const int64_t begin = next * grain_;
    (*body_)(begin, std::min(count_, begin + grain_));
    if (static_cast<int64_t>(chunks_done_.fetch_add(1)) + 1 == chunks && caller_sleeping_.load())
      chunks_done_.notify_one();
    word = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& body) {
  if (count <= 0) return;
  const int parts = size();
  if (parts == 1 || count == 1 || serial_loops_ > 0) {
    serial_loops_ -= serial_loops_ > 0;
    body(0, count);
    return;
  }
  // The claim word holds chunk counts below 2^16.
  const int64_t chunks = std::min({count, parts * kChunksPerThread, int64_t{0xffff}});
  body_ = &body;
  count_ = count;
  grain_ = (count + chunks - 1) / chunks;
  const auto used = static_cast<uint32_t>((count + grain_ - 1) / grain_);
  chunks_done_.store(0, std::memory_order_relaxed);
  const uint32_t generation = generation_.load(std::memory_order_relaxed) + 1;
  using clock = std::chrono::steady_clock;
  const clock::time_point start = clock::now();
  claim_.store(uint64_t{generation} << 32 | used, std::memory_order_release);
  generation_.store(generation);  // seq_cst with sleeping_workers_: no sleeper is missed
  if (sleeping_workers_.load() > 0) generation_.notify_all();
  run_chunks(generation);
  for (int i = 0; i < kSpins; ++i) {
    if (chunks_done_.load(std::memory_order_acquire) == used) return;
    cpu_relax();
  }
  // A worker still runs a chunk (or was descheduled inside one): sleep until it is done.
  const clock::time_point own_done = clock::now();
  caller_sleeping_.store(1);
  for (uint32_t done; (done = chunks_done_.load()) != used;) chunks_done_.wait(done);
  caller_sleeping_.store(0);
  // Waiting longer than the caller's own share took means that another process holds the
  // workers' cores: one thread is faster for a while.
  // Loops of one chunk per thread are left alone: there the chunks, not the cores, may differ.
  if (used >= 2 * static_cast<uint32_t>(parts) && clock::now() - own_done > own_done - start)
    serial_loops_ = kSerialLoops;
}

void ThreadPool::worker_loop() {
  uint32_t seen = 0;
  for (;;) {
    uint32_t now = generation_.load(std::memory_order_acquire);
    for (int i = 0; i < kSpins && now == seen; ++i) {
      cpu_relax();
      now = generation_.load(std::memory_order_acquire);
    }
    if (now == seen) {
      sleeping_workers_.fetch_add(1);
      while ((now = generation_.load()) == seen) generation_.wait(seen);
      sleeping_workers_.fetch_sub(1);
    }
    seen = now;
    if (stopping_.load(std::memory_order_acquire)) return;
    run_chunks(seen);
  }
}

}  // namespace etch
