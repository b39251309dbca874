#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "test_support.hpp"

namespace etch::testing {

struct CommandResult {
  int exit_code;
  std::string out;
  std::string err;
};

// Runs `etch <args>` through the shell (args are already shell-quoted by the caller) with
// stdout and stderr captured separately. `prefix` goes before the binary: shell settings such
// as "ulimit -f 64;", or a command that runs etch as another user.
inline CommandResult run_etch(const std::string& args, const std::string& prefix = "") {
  static int counter = 0;
  static const TempDir dir("cli");
  const std::string out = (dir / ("out" + std::to_string(counter))).string();
  const std::string err = (dir / ("err" + std::to_string(counter++))).string();
  const std::string command =
      prefix + " " + etch_binary() + " " + args + " >" + out + " 2>" + err + " </dev/null";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(out), read_text(err)};
}

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace etch::testing
