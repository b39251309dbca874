#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/output_file.hpp"
#include "test_support.hpp"

namespace etch {
namespace {

using testing::error_of;
using testing::listing;
using testing::read_text;
using testing::TempDir;

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(OutputFile, CommitReplacesTheTargetWhole) {
  const TempDir dir("output");
  write_text(dir / "out.bin", "old");
  OutputFile out((dir / "out.bin").string());
  out.write("new ");
  out.write("contents");
  EXPECT_EQ(read_text(dir / "out.bin"), "old");  // nothing visible before the commit
  out.commit();
  EXPECT_EQ(read_text(dir / "out.bin"), "new contents");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"out.bin"});
}

TEST(OutputFile, AnAbandonedWriteLeavesTheOldFileAndNoTemporary) {
  const TempDir dir("output");
  write_text(dir / "out.bin", "old");
  {
    OutputFile out((dir / "out.bin").string());
    out.write("half of it");
  }  // an exception unwinding past it does the same
  EXPECT_EQ(read_text(dir / "out.bin"), "old");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"out.bin"});
}

TEST(OutputFile, AFailedVerificationKeepsTheOldFile) {
  const TempDir dir("output");
  write_text(dir / "out.bin", "old");
  OutputFile out((dir / "out.bin").string());
  out.write("corrupt");
  EXPECT_EQ(error_of([&] {
              out.commit([](const std::string&) { fail("re-read found a bad checksum"); });
            }),
            "re-read found a bad checksum");
  EXPECT_EQ(read_text(dir / "out.bin"), "old");
}

TEST(OutputFile, VerificationReadsTheWrittenBytes) {
  const TempDir dir("output");
  OutputFile out((dir / "out.bin").string());
  out.write("abc");
  std::string seen;
  out.commit([&](const std::string& written) { seen = read_text(written); });
  EXPECT_EQ(seen, "abc");
}

// A child process writes, then is killed by `signal_number` mid-write: the old file stays
// byte-identical and the temporary is gone.
void expect_signal_leaves_old_file(int signal_number) {
  const TempDir dir("output");
  write_text(dir / "out.bin", "old");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    OutputFile out((dir / "out.bin").string());
    out.write("partial");
    ::raise(signal_number);
    ::_exit(0);  // not reached: the handler re-raises with the default action
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), signal_number);
  EXPECT_EQ(read_text(dir / "out.bin"), "old");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"out.bin"});
}

TEST(OutputFile, SigtermMidWriteRemovesTheTemporary) {
  expect_signal_leaves_old_file(SIGTERM);
}

TEST(OutputFile, SigintMidWriteRemovesTheTemporary) {
  expect_signal_leaves_old_file(SIGINT);
}

TEST(OutputFile, AFileSizeLimitFailsWithItsReasonAndLeavesNothing) {
  const TempDir dir("output");
  write_text(dir / "out.bin", "old");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const rlimit limit{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    const std::string message = error_of([&] {
      OutputFile out((dir / "out.bin").string());
      out.write(std::string(8192, 'x'));
      out.commit();
    });
    ::_exit(message.find("File too large") != std::string::npos ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(read_text(dir / "out.bin"), "old");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"out.bin"});
}

TEST(OutputFile, RefusesTheInputItself) {
  const TempDir dir("output");
  write_text(dir / "model.gguf", "weights");
  std::filesystem::create_hard_link(dir / "model.gguf", dir / "alias.gguf");
  const std::string input = (dir / "model.gguf").string();
  EXPECT_NE(error_of([&] { check_output_path(input, {input}); }).find("is the input model"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              check_output_path((dir / "alias.gguf").string(), {input});
            }).find("is the input model"),
            std::string::npos);
  // A file inside an input folder (a Hugging Face model) is that input too.
  EXPECT_NE(error_of([&] {
              check_output_path(input, {dir.path().string()});
            }).find("is a file of the input"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { check_output_path((dir / "new.etch").string(), {input}); }), "");
}

TEST(OutputFile, RefusesAFolderOrAMissingFolderWithTheReason) {
  const TempDir dir("output");
  const std::string folder = dir.path().string();
  EXPECT_EQ(error_of([&] { check_output_path(folder); }),
            folder + ": is a folder, not a file to write");
  const std::string missing = (dir / "no" / "out.etch").string();
  EXPECT_EQ(
      error_of([&] { check_output_path(missing); }),
      missing + ": cannot write into " + (dir / "no").string() + ": No such file or directory");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{});
}

}  // namespace
}  // namespace etch
