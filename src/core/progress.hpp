#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace etch {

// Progress of a long step on stderr, with its unit, the time elapsed and an estimate of the
// time left. On a terminal: a bar redrawn at most ten times a second. Elsewhere (a log, a
// pipe, CI): one plain line every five seconds, so a long run is never silent and a log stays
// readable.
class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit);
  ~Progress();
  // `note` is shown after the counts, e.g. a running estimate.
  void update(int64_t done, const std::string& note = "");
  void finish();

 private:
  void draw(int64_t done);

  std::string label_;
  int64_t total_;
  std::string unit_;
  std::string note_;
  bool terminal_;
  bool finished_ = false;
  int64_t done_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace etch
