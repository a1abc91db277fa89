#include "common/file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/fd.h"

namespace berth {

namespace {

std::unexpected<Error> FileError(std::string_view what, const std::string& path, int err) {
  return InternalFailure(fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Makes the rename of a new file in `path`'s directory durable.
Status SyncParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return FileError("cannot open the directory of", path, errno);
  if (::fsync(fd.get()) != 0) return FileError("cannot sync the directory of", path, errno);
  return {};
}

}  // namespace

Result<std::optional<std::string>> ReadSmallFile(const std::string& path, size_t limit) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() && errno == ENOENT) return std::nullopt;
  if (!fd.valid()) return FileError("cannot open", path, errno);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileError("cannot read", path, errno);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit) {
      return InternalFailure(fmt::format("{} is larger than {} bytes", path, limit));
    }
  }
  return out;
}

Result<bool> WriteFileAtomically(const std::string& path, std::string_view bytes, mode_t mode,
                                 Existing existing, Durability durability) {
  const bool sync = durability == Durability::kSynced;
  std::string tmp = path + ".tmp";
  if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) {
    return FileError("cannot remove the stale file", tmp, errno);
  }
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd.valid()) return FileError("cannot create", tmp, errno);
  bool ok = ::fchmod(fd.get(), mode) == 0 && WriteAll(fd.get(), bytes) &&
            (!sync || ::fsync(fd.get()) == 0);
  int err = errno;
  fd.Reset();
  if (!ok) {
    ::unlink(tmp.c_str());
    return FileError("cannot write", tmp, err);
  }
  int renamed = -1;
  if (existing == Existing::kKeep) {
    // Never replaces a file another process wrote in the meantime.
    renamed = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    if (renamed != 0 && errno == EINVAL) renamed = ::rename(tmp.c_str(), path.c_str());
  } else {
    renamed = ::rename(tmp.c_str(), path.c_str());
  }
  if (renamed != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    if (err == EEXIST && existing == Existing::kKeep) return false;
    return FileError("cannot move into place", path, err);
  }
  if (sync) BERTH_CHECK(SyncParentDir(path));
  return true;
}

}  // namespace berth
