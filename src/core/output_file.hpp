// Every file etch writes goes through OutputFile, so that an output appears whole or not at
// all: the bytes go to a temporary file in the target's folder, which is synced, checked, and
// only then renamed over the target. On an error, an exception or SIGINT/SIGTERM the temporary
// is removed and an existing target is left untouched.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace etch {

// Refuses, before any work starts, an output that cannot be written (a folder, a missing or
// unwritable folder) or that is one of `inputs` (the same file, or a file directly inside an
// input folder, compared by inode). Throws Error with the OS reason.
void check_output_path(const std::string& path, const std::vector<std::string>& inputs = {});

class OutputFile {
 public:
  // Creates the temporary file beside `path`; throws Error (with strerror) when it cannot.
  explicit OutputFile(std::string path);
  ~OutputFile();  // removes the temporary unless commit() succeeded
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(const void* data, size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Syncs and closes the temporary, runs `verify(temporary_path)` (which throws to refuse the
  // result), then renames it over the target and syncs the folder.
  void commit(const std::function<void(const std::string&)>& verify = {});

 private:
  void discard();

  std::string path_;
  std::string temporary_;
  int fd_ = -1;
  int slot_ = -1;  // its entry in the table the signal handler cleans up
  bool committed_ = false;
};

// Writes `bytes` to `path` through an OutputFile.
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace etch
