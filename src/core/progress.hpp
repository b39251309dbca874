#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace etch {

// A progress bar on stderr, drawn only when stderr is a terminal (and never under CI), so
// logs and pipes stay clean. Redraws at most ten times a second.
class Progress {
 public:
  Progress(std::string label, int64_t total);
  ~Progress();
  void update(int64_t done);
  void finish();

 private:
  void draw(int64_t done);

  std::string label_;
  int64_t total_;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace etch
