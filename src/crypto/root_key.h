// The root key: wraps every piece of secret material berth keeps in its store
// (access key secrets, KMS key material). It lives outside the store, in a
// file created 0600 on first start, so the store file alone reveals nothing.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace berth::crypto {

class RootKey {
 public:
  // Reads the 32-byte key at `path`, creating it (random, mode 0600) when the
  // file does not exist. A new key is written to "<path>.tmp" and renamed into
  // place: whatever was at the temp path (a crash's leftover, a planted
  // symlink) is unlinked, never written through; the file is created
  // exclusively with mode 0600 whatever the umask; file and directory are
  // fsynced; a key another process created meanwhile wins and is returned.
  // Fails when the file exists with another size.
  static Result<RootKey> LoadOrCreate(const std::string& path);
  // A key from raw bytes (tests).
  static Result<RootKey> FromBytes(std::string bytes);

  // Seals `plaintext`, bound to `context` (e.g. the store key it is kept
  // under), so a sealed value moved elsewhere does not open.
  // Format: 0x01 || AES-256-GCM(nonce || ciphertext || tag).
  Result<std::string> Seal(std::string_view plaintext, std::string_view context) const;
  Result<std::string> Open(std::string_view sealed, std::string_view context) const;

 private:
  explicit RootKey(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace berth::crypto
