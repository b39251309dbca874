#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

// A fresh temporary folder for one test, removed by the caller's TearDown or left in /tmp.
inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("etch-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string etch_binary() {
  return ETCH_BINARY;
}

}  // namespace etch::testing
