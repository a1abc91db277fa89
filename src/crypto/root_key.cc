#include "crypto/root_key.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "crypto/aes_gcm.h"
#include "crypto/random.h"

namespace berth::crypto {

namespace {
constexpr char kFormatV1 = 0x01;

std::unexpected<Error> KeyFileError(std::string_view what, const std::string& path, int err) {
  return InternalFailure(fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

// The key held at `path`; nullopt when there is no file there.
Result<std::optional<std::string>> ReadKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return std::nullopt;
  if (fd < 0) return KeyFileError("cannot open root key file", path, errno);
  std::string key(kAesKeySize + 1, '\0');
  ssize_t n = ::read(fd, key.data(), key.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(kAesKeySize)) {
    return InternalFailure(fmt::format("root key file {} must hold exactly 32 bytes", path));
  }
  key.resize(kAesKeySize);
  return key;
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
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return KeyFileError("cannot open the directory of", path, errno);
  bool ok = ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return KeyFileError("cannot sync the directory of", path, err);
  return {};
}

// Writes `key` as a new file at `path`, through "<path>.tmp". Whatever is at
// the temp path (a file a crash left, possibly world-readable, or a symlink
// planted there) is unlinked, never opened or followed; the temp file is
// created fresh and exclusive, 0600 whatever the umask; file and directory are
// fsynced. False when a key appeared at `path` meanwhile (it is kept).
Result<bool> CreateKeyFile(const std::string& path, std::string_view key) {
  std::string tmp = path + ".tmp";
  if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) {
    return KeyFileError("cannot remove the stale root key file", tmp, errno);
  }
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return KeyFileError("cannot create root key file", tmp, errno);
  bool ok = ::fchmod(fd, 0600) == 0 && WriteAll(fd, key) && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return KeyFileError("cannot write root key file", tmp, err);
  }
  // Never replaces a key another process wrote in the meantime.
  int renamed = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
  if (renamed != 0 && errno == EINVAL) renamed = ::rename(tmp.c_str(), path.c_str());
  if (renamed != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    if (err == EEXIST) return false;
    return KeyFileError("cannot move the root key into place at", path, err);
  }
  BERTH_CHECK(SyncParentDir(path));
  return true;
}

}  // namespace

Result<RootKey> RootKey::FromBytes(std::string bytes) {
  if (bytes.size() != kAesKeySize) return InternalFailure("root key must be 32 bytes");
  return RootKey(std::move(bytes));
}

Result<RootKey> RootKey::LoadOrCreate(const std::string& path) {
  std::optional<std::string> key = BERTH_TRY(ReadKeyFile(path));
  if (key) return RootKey(std::move(*key));
  std::string fresh = RandomString(kAesKeySize);
  if (BERTH_TRY(CreateKeyFile(path, fresh))) return RootKey(std::move(fresh));
  key = BERTH_TRY(ReadKeyFile(path));  // another process created it first
  if (!key) return InternalFailure(fmt::format("root key file {} vanished", path));
  return RootKey(std::move(*key));
}

Result<std::string> RootKey::Seal(std::string_view plaintext, std::string_view context) const {
  auto sealed = BERTH_TRY(AesGcmSeal(key_, plaintext, context));
  return std::string(1, kFormatV1) + sealed;
}

Result<std::string> RootKey::Open(std::string_view sealed, std::string_view context) const {
  if (sealed.empty() || sealed[0] != kFormatV1) {
    return Fail("InvalidCiphertextException", "Unknown sealed-value format.");
  }
  return AesGcmOpen(key_, sealed.substr(1), context);
}

}  // namespace berth::crypto
