// AES-256-GCM authenticated encryption over OpenSSL.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace berth::crypto {

inline constexpr size_t kAesKeySize = 32;
inline constexpr size_t kGcmNonceSize = 12;
inline constexpr size_t kGcmTagSize = 16;

// Encrypts `plaintext` under `key` (32 bytes) with a fresh random nonce and
// binds `aad` (associated data). Returns nonce || ciphertext || tag.
Result<std::string> AesGcmSeal(std::string_view key, std::string_view plaintext,
                               std::string_view aad);

// Reverses AesGcmSeal. Any tampering, a wrong key or different `aad` fails
// with code "InvalidCiphertextException".
Result<std::string> AesGcmOpen(std::string_view key, std::string_view sealed, std::string_view aad);

}  // namespace berth::crypto
