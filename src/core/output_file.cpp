#include "core/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "core/error.hpp"

namespace etch {

namespace {

// The temporaries alive now, in a fixed table the signal handler can read without locks or
// allocation: a slot's path is written before `used` is set, and cleared after.
constexpr int kSlots = 16;
constexpr size_t kPathBytes = 4096;
struct Slot {
  std::atomic<bool> used{false};
  char path[kPathBytes];
};
std::array<Slot, kSlots> g_slots;

extern "C" void remove_temporaries_and_die(int signal_number) {
  for (Slot& slot : g_slots)
    if (slot.used.load()) ::unlink(slot.path);
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

void install_handlers_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    // A file-size limit then fails the write with EFBIG, reported, instead of killing etch.
    std::signal(SIGXFSZ, SIG_IGN);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction old {};
      ::sigaction(s, nullptr, &old);
      if (old.sa_handler == SIG_DFL) std::signal(s, remove_temporaries_and_die);
    }
  });
}

int claim_slot(const std::string& path) {
  static std::mutex claim;
  std::lock_guard lock(claim);
  if (path.size() >= kPathBytes) return -1;
  for (int i = 0; i < kSlots; ++i) {
    Slot& slot = g_slots[static_cast<size_t>(i)];
    if (slot.used.load()) continue;
    std::memcpy(slot.path, path.c_str(), path.size() + 1);
    slot.used.store(true);
    return i;
  }
  return -1;
}

void release_slot(int slot) {
  if (slot >= 0) g_slots[static_cast<size_t>(slot)].used.store(false);
}

std::string folder_of(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

void check_output_path(const std::string& path, const std::vector<std::string>& inputs) {
  if (path.empty()) fail("the output file name is empty");
  struct stat target {};
  const bool exists = ::stat(path.c_str(), &target) == 0;
  if (exists && S_ISDIR(target.st_mode)) fail_file(path, "is a folder, not a file to write");
  if (exists) {
    for (const std::string& input : inputs) {
      struct stat in {};
      if (::stat(input.c_str(), &in) != 0) continue;
      if (same_file(in, target))
        fail_file(path, "is the input model; refusing to overwrite it (choose another output)");
      if (!S_ISDIR(in.st_mode)) continue;
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(input, ec)) {
        struct stat file {};
        if (::stat(entry.path().c_str(), &file) == 0 && same_file(file, target))
          fail_file(path, "is a file of the input {}; refusing to overwrite it", input);
      }
    }
  }
  const std::string folder = folder_of(path);
  struct stat dir {};
  if (::stat(folder.c_str(), &dir) != 0)
    fail_file(path, "cannot write into {}: {}", folder, std::strerror(errno));
  if (!S_ISDIR(dir.st_mode)) fail_file(path, "cannot write into {}: not a folder", folder);
  if (::access(folder.c_str(), W_OK | X_OK) != 0)
    fail_file(path, "cannot write into {}: {}", folder, std::strerror(errno));
}

OutputFile::OutputFile(std::string path) : path_(std::move(path)) {
  check_output_path(path_);
  install_handlers_once();
  const std::filesystem::path target(path_);
  std::string pattern =
      (std::filesystem::path(folder_of(path_)) / ("." + target.filename().string() + ".XXXXXX"))
          .string();
  fd_ = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (fd_ < 0) {
    const int err = errno;
    fail_file(path_, "cannot create a temporary file in {}: {}", folder_of(path_),
              std::strerror(err));
  }
  temporary_ = pattern;
  slot_ = claim_slot(temporary_);
  // mkostemp makes the file 0600; an output gets the permissions a plain create would.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd_, 0666 & ~mask);
}

OutputFile::~OutputFile() {
  if (!committed_) discard();
}

void OutputFile::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
  release_slot(slot_);
  slot_ = -1;
}

void OutputFile::write(const void* data, size_t bytes) {
  if (fd_ < 0) fail_file(path_, "write after the file was closed");
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      discard();
      fail_file(path_, "write failed: {} (the previous file, if any, is untouched)",
                std::strerror(err));
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void OutputFile::commit(const std::function<void(const std::string&)>& verify) {
  if (fd_ < 0) fail_file(path_, "commit after the file was closed");
  if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
    const int err = errno;
    fd_ = -1;
    discard();
    fail_file(path_, "write failed: {}", std::strerror(err));
  }
  fd_ = -1;
  if (verify) verify(temporary_);  // throws: the destructor removes the temporary
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    discard();
    fail_file(path_, "cannot rename the finished file into place: {}", std::strerror(err));
  }
  committed_ = true;
  release_slot(slot_);
  slot_ = -1;
  const int dir = ::open(folder_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // the rename itself reaches the disk
    ::close(dir);
  }
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  OutputFile out(path);
  out.write(bytes);
  out.commit();
}

}  // namespace etch
