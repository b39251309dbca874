#include "core/parallel.hpp"

#include <algorithm>

namespace etch {

namespace {

void slice(int64_t count, int parts, int index, int64_t& begin, int64_t& end) {
  const int64_t base = count / parts;
  const int64_t extra = count % parts;
  begin = index * base + std::min<int64_t>(index, extra);
  end = begin + base + (index < extra ? 1 : 0);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until pred() holds, then sleeps on `word` changing from `seen`. A few tens of µs of
// spinning covers the gap between consecutive loops of one forward pass.
template <typename T, typename Pred>
void await(const std::atomic<T>& word, Pred pred) {
  for (int i = 0; i < 4000; ++i) {
    if (pred()) return;
    cpu_relax();
  }
  while (!pred()) {
    const T seen = word.load(std::memory_order_acquire);
    if (pred()) return;
    word.wait(seen, std::memory_order_acquire);
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  const int n = std::max(1, threads);
  workers_.reserve(n - 1);
  for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stopping_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

int ThreadPool::default_threads() {
  return std::max(1u, std::thread::hardware_concurrency());
}

void ThreadPool::parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& body) {
  if (count <= 0) return;
  const int parts = size();
  if (parts == 1 || count == 1) {
    body(0, count);
    return;
  }
  body_ = &body;
  count_ = count;
  pending_.store(parts - 1, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  int64_t begin, end;
  slice(count, parts, 0, begin, end);
  if (begin < end) body(begin, end);
  await(pending_, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  body_ = nullptr;
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    await(generation_, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    seen = generation_.load(std::memory_order_acquire);
    if (stopping_.load(std::memory_order_acquire)) return;
    int64_t begin, end;
    slice(count_, size(), index, begin, end);
    if (begin < end) (*body_)(begin, end);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace etch
