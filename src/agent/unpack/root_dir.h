// A directory treated as "/": paths are resolved inside it the way the kernel
// resolves them for a process chrooted there, so no path, symlink or ".." can
// reach anything outside it. Internal to the unpack stage.
//
// Resolution uses openat2(RESOLVE_IN_ROOT) when the kernel has it (Linux 5.6+)
// and otherwise walks the path one component at a time with O_NOFOLLOW,
// expanding symlinks itself with "/" and ".." clamped at the root.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "common/error.h"
#include "common/fd.h"

namespace berth::agent::unpack {

class RootDir {
 public:
  // Opens `path`, which must be an existing directory.
  static Result<RootDir> Open(const std::string& path);

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

  // Opens the directory at `rel` ("a/b"; "" is the root itself), following
  // symlinks inside the root. Returns an O_PATH directory descriptor, or
  // -errno (ENOENT, ENOTDIR, ELOOP, ...).
  int OpenDir(std::string_view rel) const;
  // Like OpenDir, but creates missing directories (mode 0755) on the way.
  // A component that exists but is not a directory (nor a symlink to one) is
  // ENOTDIR; a dangling symlink is ENOENT.
  int OpenOrCreateDir(std::string_view rel) const;

  // Tests force the component-by-component resolver on kernels with openat2.
  static void ForceManualResolutionForTesting(bool manual);

 private:
  RootDir(std::string path, Fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  std::string path_;
  Fd fd_;
};

}  // namespace berth::agent::unpack
