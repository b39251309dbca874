#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace etch::testing {

// The shared fixtures folder: $ETCH_FIXTURES, else ../shared/fixtures beside the source tree.
inline std::filesystem::path fixtures() {
  if (const char* env = std::getenv("ETCH_FIXTURES")) return env;
  return ETCH_FIXTURES_DEFAULT;
}

inline std::filesystem::path model_dir(const std::string& name) {
  return fixtures() / "models" / name;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline nlohmann::json read_json(const std::filesystem::path& path) {
  return nlohmann::json::parse(read_text(path));
}

inline std::vector<float> read_f32(const std::filesystem::path& path) {
  const std::string bytes = read_text(path);
  std::vector<float> out(bytes.size() / sizeof(float));
  std::copy(bytes.begin(), bytes.begin() + static_cast<long>(out.size() * sizeof(float)),
            reinterpret_cast<char*>(out.data()));
  return out;
}

// A fresh temporary folder that is removed, with everything in it, when it goes out of scope.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / ("etch-test-" + name + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    // A test may leave a folder read-only; make it removable first.
    for (const auto& e : std::filesystem::recursive_directory_iterator(path_, ec))
      if (e.is_directory(ec))
        std::filesystem::permissions(e.path(), std::filesystem::perms::owner_all,
                                     std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A temporary folder for this test process, one per name, removed with everything in it when
// the process exits (the files in it may be used until then).
inline std::filesystem::path temp_dir(const std::string& name) {
  static std::map<std::string, std::unique_ptr<TempDir>> folders;
  std::unique_ptr<TempDir>& folder = folders[name];
  if (!folder) folder = std::make_unique<TempDir>(name);
  return folder->path();
}

// The names in `dir`, sorted: what a failed write must not have changed.
inline std::vector<std::string> listing(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The message of the etch::Error `action` throws, or "" when it throws none.
template <typename F>
std::string error_of(F&& action) {
  try {
    action();
  } catch (const etch::Error& e) {
    return e.what();
  }
  return "";
}

// Expects `action` to throw etch::Error with a one-line message holding every one of `parts`.
template <typename F>
void expect_error(F&& action, const std::vector<std::string>& parts) {
  const std::string message = error_of(std::forward<F>(action));
  if (message.empty()) {
    ADD_FAILURE() << "no error; expected one mentioning '" << parts.front() << "'";
    return;
  }
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  for (const std::string& part : parts)
    EXPECT_NE(message.find(part), std::string::npos) << message << "\n  lacks: " << part;
}

inline std::string etch_binary() {
  return ETCH_BINARY;
}

}  // namespace etch::testing
