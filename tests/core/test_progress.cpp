#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/progress.hpp"

namespace etch {
namespace {

// Under ctest stderr is a file, as in a log or CI: the progress must still be reported, as
// plain lines with the unit, the elapsed time and the time left.
TEST(Progress, WithoutATerminalALineEveryFiveSecondsWithUnitsAndEta) {
  ::testing::internal::CaptureStderr();
  {
    Progress progress("work", 100, "widgets");
    progress.update(10);  // too soon for a line
    std::this_thread::sleep_for(std::chrono::milliseconds(5050));
    progress.update(50, "estimate 1.5");
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  const std::string first = "etch: work 50/100 widgets (50%), 5.";
  ASSERT_TRUE(err.starts_with(first)) << err;
  EXPECT_NE(err.find("s, ETA 5.", first.size()), std::string::npos) << err;
  EXPECT_NE(err.find("s, estimate 1.5\n"), std::string::npos) << err;
  // Finishing a long step logs its total.
  EXPECT_NE(err.find("\netch: work 100/100 widgets (100%), "), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 2) << err;
}

}  // namespace
}  // namespace etch
