#include "crypto/root_key.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/aes_gcm.h"
#include "crypto/random.h"

namespace berth::crypto {

namespace {
constexpr char kFormatV1 = 0x01;
}

Result<RootKey> RootKey::FromBytes(std::string bytes) {
  if (bytes.size() != kAesKeySize) return InternalFailure("root key must be 32 bytes");
  return RootKey(std::move(bytes));
}

Result<RootKey> RootKey::LoadOrCreate(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    std::string key = RandomString(kAesKeySize);
    std::string tmp = path + ".tmp";
    int out = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
      return InternalFailure(fmt::format("cannot create root key file {}: {}", tmp, strerror(errno)));
    }
    bool ok = write(out, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && fsync(out) == 0;
    close(out);
    if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
      unlink(tmp.c_str());
      return InternalFailure(fmt::format("cannot write root key file {}", path));
    }
    return RootKey(std::move(key));
  }
  if (fd < 0) return InternalFailure(fmt::format("cannot open root key file {}: {}", path, strerror(errno)));
  std::string key(kAesKeySize + 1, '\0');
  ssize_t n = read(fd, key.data(), key.size());
  close(fd);
  if (n != static_cast<ssize_t>(kAesKeySize)) {
    return InternalFailure(fmt::format("root key file {} must hold exactly 32 bytes", path));
  }
  key.resize(kAesKeySize);
  return RootKey(std::move(key));
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
