#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace etch {

// The one exception type etch throws for bad input or failed operations. Its message is
// a single line meant for the user: it names the file (when there is one) and the problem.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws Error("<path>: <formatted message>").
template <typename... Args>
[[noreturn]] void fail_file(std::string_view path, fmt::format_string<Args...> format,
                            Args&&... args) {
  throw Error(fmt::format("{}: {}", path, fmt::format(format, std::forward<Args>(args)...)));
}

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace etch
