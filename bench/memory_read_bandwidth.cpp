// The machine's memory-read bandwidth as a decode sees it: threads summing disjoint slices of a
// buffer far larger than the caches, best of several passes, in GB/s (10^9 bytes).
//
// Usage: memory_read_bandwidth [THREADS (default 1)] [MIB (default 1024)]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::max(1, std::stoi(argv[1])) : 1;
  const size_t mib = argc > 2 ? std::stoul(argv[2]) : 1024;
  std::vector<uint64_t> data(mib << 17, 1);  // 8-byte words
  std::vector<uint64_t> sums(static_cast<size_t>(threads) * 8);
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const size_t begin = data.size() * static_cast<size_t>(t) / static_cast<size_t>(threads);
        const size_t end = data.size() * static_cast<size_t>(t + 1) / static_cast<size_t>(threads);
        uint64_t s = 0;
        for (size_t i = begin; i < end; ++i) s += data[i];
        sums[static_cast<size_t>(t) * 8] = s;  // one cache line per thread
      });
    for (auto& t : pool) t.join();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, static_cast<double>(data.size() * 8) / seconds / 1e9);
  }
  uint64_t total = 0;
  for (uint64_t s : sums) total += s;
  if (total != data.size()) return 1;  // keeps the sums, and checks them
  fmt::print("{:.2f}\n", best);
  return 0;
}
