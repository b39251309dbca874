#include "core/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

namespace etch {

namespace {

std::string seconds_text(double seconds) {
  if (seconds < 120) return fmt::format("{:.1f}s", seconds);
  return fmt::format("{}m{:02}s", static_cast<int64_t>(seconds) / 60,
                     static_cast<int64_t>(seconds) % 60);
}

}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      terminal_(::isatty(STDERR_FILENO) != 0 && std::getenv("CI") == nullptr),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  finish();
}

void Progress::update(int64_t done, const std::string& note) {
  if (finished_) return;
  done_ = done;
  if (!note.empty()) note_ = note;
  const auto now = std::chrono::steady_clock::now();
  const auto interval =
      terminal_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (now - last_draw_ < interval && (terminal_ ? done < total_ : true)) return;
  last_draw_ = now;
  draw(done);
}

void Progress::draw(int64_t done) {
  const double fraction =
      total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string eta =
      done > 0 && done < total_ ? ", ETA " + seconds_text(seconds / fraction - seconds) : "";
  const std::string counts =
      fmt::format("{}/{} {} ({:.0f}%), {}{}{}", done, total_, unit_, 100 * fraction,
                  seconds_text(seconds), eta, note_.empty() ? "" : ", " + note_);
  if (!terminal_) {
    fmt::print(stderr, "etch: {} {}\n", label_, counts);
    return;
  }
  constexpr int kWidth = 30;
  std::string bar(static_cast<size_t>(fraction * kWidth), '#');
  bar.resize(kWidth, '.');
  // Padded so that a shorter redraw covers the longer one before it.
  fmt::print(stderr, "\r{} [{}] {:<60}", label_, bar, counts);
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (terminal_) {
    draw(total_);
    fmt::print(stderr, "\n");
  } else if (done_ > 0 && std::chrono::steady_clock::now() - start_ >= std::chrono::seconds(5)) {
    draw(total_);  // a long step's log ends with its total
  }
}

}  // namespace etch
