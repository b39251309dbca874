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

// The most loops the caller runs alone after workers that kept failing: minutes of a busy machine.
constexpr int kMaxSerialLoops = 1 << 20;

// Loops over which the workers' share of the chunks is judged.
constexpr int kWindowLoops = 64;

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

int64_t ThreadPool::run_chunks(uint32_t generation) {
  int64_t ran = 0;
  uint64_t word = claim_.load(std::memory_order_acquire);
  for (;;) {
    const auto next = static_cast<int64_t>((word >> 16) & 0xffff);
    const auto chunks = static_cast<int64_t>(word & 0xffff);
    if (static_cast<uint32_t>(word >> 32) != generation || next >= chunks) return ran;
    if (!claim_.compare_exchange_weak(word, word + (uint64_t{1} << 16), std::memory_order_acq_rel,
                                      std::memory_order_acquire))
      continue;
    const int64_t begin = next * grain_;
    (*body_)(begin, std::min(count_, begin + grain_));
    ++ran;
    if (static_cast<int64_t>(chunks_done_.fetch_add(1)) + 1 == chunks && caller_sleeping_.load())
      chunks_done_.notify_one();
    word = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::parallel_for(int64_t count, LoopBody body) {
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
  const int64_t own = run_chunks(generation);
  for (int i = 0; i < kSpins; ++i) {
    if (chunks_done_.load(std::memory_order_acquire) == used) {
      judge_loop(used, own, false);
      return;
    }
    cpu_relax();
  }
  // A worker still runs a chunk (or was descheduled inside one): sleep until it is done.
  const clock::time_point own_done = clock::now();
  caller_sleeping_.store(1);
  for (uint32_t done; (done = chunks_done_.load()) != used;) chunks_done_.wait(done);
  caller_sleeping_.store(0);
  judge_loop(used, own, clock::now() - own_done > own_done - start);
}

void ThreadPool::judge_loop(uint32_t used, int64_t own, bool waited_long) {
  const int64_t parts = size();
  // Loops of one chunk per thread are left alone: there the chunks, not the cores, may differ.
  if (used < 2 * parts) return;
  // Waiting for a worker longer than the caller's own share took, twice in a row, or workers that
  // ran under an eighth of their share of a window's chunks, mean that other processes hold the
  // workers' cores: one thread is faster for a while.
  bool slow = waited_long && waited_long_before_, judged = slow;
  waited_long_before_ = waited_long;
  window_chunks_ += used;
  window_own_ += own;
  if (++window_loops_ == kWindowLoops) {
    slow |= (window_chunks_ - window_own_) * 8 * parts < window_chunks_ * (parts - 1);
    judged = true;
    window_loops_ = window_chunks_ = window_own_ = 0;
  }
  if (slow) {
    serial_loops_ = serial_backoff_;
    serial_backoff_ = std::min(kMaxSerialLoops, 2 * serial_backoff_);
  } else if (judged) {
    serial_backoff_ = std::max(kSerialLoops, serial_backoff_ / 2);
  }
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
