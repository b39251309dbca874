// Nothing lost, nothing silent: outputs are atomic, inputs and options are checked before any
// work, and every failure is one line with an exact exit code (docs/cli.md).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "cli_support.hpp"

namespace etch {
namespace {

namespace fs = std::filesystem;
using testing::listing;
using testing::model_dir;
using testing::quote;
using testing::read_text;
using testing::run_etch;
using testing::TempDir;

constexpr int kRuntimeError = 1;
constexpr int kArgumentError = 2;

const fs::path kSmallGguf = model_dir("rand-tied-mha") / "rand-tied-mha-f32.gguf";

size_t lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(CliOutputs, BuildRefusesToOverwriteItsInput) {
  const TempDir dir("outputs");
  fs::copy_file(kSmallGguf, dir / "model.gguf");
  const std::string model = quote((dir / "model.gguf").string());
  const auto r = run_etch("build " + model + " -o " + model);
  EXPECT_EQ(r.exit_code, kRuntimeError);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("is the input model"), std::string::npos) << r.err;
  EXPECT_EQ(read_text(dir / "model.gguf"), read_text(kSmallGguf));
}

TEST(CliOutputs, AFileSizeLimitMidBuildKeepsTheOldOutputByteIdentical) {
  const TempDir dir("outputs");
  write_text(dir / "out.etch", "the previous, good artifact");
  // 64 blocks of 512 bytes: the small model's .etch is far larger.
  const auto r = run_etch("build " + quote(kSmallGguf.string()) + " --recipe hc8 -o " +
                              quote((dir / "out.etch").string()),
                          "ulimit -f 64;");
  EXPECT_EQ(r.exit_code, kRuntimeError);
  EXPECT_NE(r.err.find("write failed: File too large"), std::string::npos) << r.err;
  EXPECT_EQ(read_text(dir / "out.etch"), "the previous, good artifact");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"out.etch"});
}

TEST(CliOutputs, AnUnwritableFolderIsRefusedBeforeAnyWorkWithItsReason) {
  const TempDir dir("outputs");
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  fs::create_directory(dir / "readonly");
  fs::permissions(dir / "readonly", fs::perms::owner_read | fs::perms::owner_exec |
                                        fs::perms::group_read | fs::perms::group_exec |
                                        fs::perms::others_read | fs::perms::others_exec);
  // Permission bits do not bind root: run etch as nobody there.
  const std::string as_user =
      ::geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups" : "";
  const std::string out = quote((dir / "readonly" / "out.etch").string());
  const auto build = run_etch("build " + quote(kSmallGguf.string()) + " -o " + out, as_user);
  EXPECT_EQ(build.exit_code, kRuntimeError);
  EXPECT_NE(build.err.find("Permission denied"), std::string::npos) << build.err;
  EXPECT_EQ(build.err.find("loaded"), std::string::npos) << "refused after loading: " << build.err;
  const auto svg = run_etch(
      "plan --preset llama-3.1-8b --svg " + quote((dir / "readonly" / "floor.svg").string()),
      as_user);
  EXPECT_EQ(svg.exit_code, kRuntimeError);
  EXPECT_NE(svg.err.find("Permission denied"), std::string::npos) << svg.err;
  EXPECT_TRUE(svg.out.empty()) << "planned before refusing the output";
  EXPECT_EQ(listing(dir / "readonly"), std::vector<std::string>{});
}

TEST(CliOutputs, AFolderAsOutputIsRefused) {
  const TempDir dir("outputs");
  const auto r = run_etch("run " + quote(kSmallGguf.string()) + " -p hi -n 1 --logits-out " +
                          quote(dir.path().string()));
  EXPECT_EQ(r.exit_code, kRuntimeError);
  EXPECT_NE(r.err.find("is a folder"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace etch
