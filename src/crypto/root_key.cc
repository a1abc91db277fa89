#include "crypto/root_key.h"

#include <fmt/format.h>

#include <optional>

#include "common/file.h"
#include "crypto/aes_gcm.h"
#include "crypto/random.h"

namespace berth::crypto {

namespace {
constexpr char kFormatV1 = 0x01;

// The key held at `path`; nullopt when there is no file there.
Result<std::optional<std::string>> ReadKeyFile(const std::string& path) {
  std::optional<std::string> key = BERTH_TRY(ReadSmallFile(path, 4096));
  if (key && key->size() != kAesKeySize) {
    return InternalFailure(fmt::format("root key file {} must hold exactly 32 bytes", path));
  }
  return key;
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
  if (BERTH_TRY(WriteFileAtomically(path, fresh, 0600, Existing::kKeep))) {
    return RootKey(std::move(fresh));
  }
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
