#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <thread>

#include "core/core.hpp"
#include "test_support.hpp"

namespace etch {
namespace {

TEST(Half, Fp16RoundTripsEveryValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = fp16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_fp16(f), h) << std::hex << h;
  }
}

TEST(Half, Fp16KnownValues) {
  EXPECT_EQ(fp16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_TRUE(std::isinf(fp16_to_f32(0x7c00)));
  EXPECT_EQ(f32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // ties to even
  EXPECT_EQ(f32_to_fp16(1e6f), 0x7c00);
}

TEST(Half, Bf16) {
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  for (uint32_t b = 0; b < 0x10000; b += 7) {
    const float f = bf16_to_f32(static_cast<uint16_t>(b));
    if (!std::isnan(f)) {
      EXPECT_EQ(f32_to_bf16(f), b);
    }
  }
}

TEST(ThreadPool, CoversEveryIndexOnceForAnyCount) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t count : {0, 1, 2, 7, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(count));
      for (int round = 0; round < 50; ++round)
        pool.parallel_for(count, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
        });
      for (auto& h : hits) EXPECT_EQ(h.load(), 50);
    }
  }
}

// A worker that is not running (here: asleep inside its chunk, as one descheduled by another
// process) makes the caller run the next loops alone instead of waiting for it again.
TEST(ThreadPool, RunsLoopsAloneAfterWaitingForASlowWorker) {
  ThreadPool pool(2);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> worker_started{false};
  pool.parallel_for(64, [&](int64_t, int64_t) {
    if (std::this_thread::get_id() != caller) {
      worker_started = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return;
    }
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!worker_started && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  });
  ASSERT_TRUE(worker_started.load());
  std::atomic<int> on_workers{0};
  for (int loop = 0; loop < 10; ++loop)
    pool.parallel_for(64, [&](int64_t, int64_t) {
      if (std::this_thread::get_id() != caller) ++on_workers;
    });
  EXPECT_EQ(on_workers.load(), 0);
}

TEST(MappedFile, MapsAndNamesMissingFiles) {
  const auto path = testing::temp_dir("core") / "data.bin";
  {
    std::ofstream out(path, std::ios::binary);
    out << "hello";
  }
  const MappedFile file(path.string());
  ASSERT_EQ(file.size(), 5u);
  EXPECT_EQ(std::memcmp(file.data(), "hello", 5), 0);
  testing::expect_error([] { MappedFile missing("/nonexistent/weights.gguf"); },
                        {"/nonexistent/weights.gguf"});
  EXPECT_THROW(MappedFile(testing::temp_dir("core").string()), Error);  // a folder
}

}  // namespace
}  // namespace etch
