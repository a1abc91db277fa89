#include "crypto/aes_gcm.h"

#include <openssl/evp.h>

#include <memory>

#include "crypto/random.h"

namespace berth::crypto {

namespace {
struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const unsigned char* U(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
}  // namespace

Result<std::string> AesGcmSeal(std::string_view key, std::string_view plaintext,
                               std::string_view aad) {
  if (key.size() != kAesKeySize) return InternalFailure("AES-256-GCM key must be 32 bytes");
  std::string out(kGcmNonceSize + plaintext.size() + kGcmTagSize, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  RandomBytes(o, kGcmNonceSize);
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key), o) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(aad), aad.size()) != 1) ||
      EVP_EncryptUpdate(ctx.get(), o + kGcmNonceSize, &len, U(plaintext), plaintext.size()) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), o + kGcmNonceSize + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagSize,
                          o + kGcmNonceSize + plaintext.size()) != 1) {
    return InternalFailure("AES-256-GCM encryption failed");
  }
  return out;
}

Result<std::string> AesGcmOpen(std::string_view key, std::string_view sealed, std::string_view aad) {
  if (key.size() != kAesKeySize) return InternalFailure("AES-256-GCM key must be 32 bytes");
  if (sealed.size() < kGcmNonceSize + kGcmTagSize) {
    return Fail("InvalidCiphertextException", "The ciphertext is too short.");
  }
  size_t body = sealed.size() - kGcmNonceSize - kGcmTagSize;
  std::string out(body, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  std::string tag(sealed.substr(kGcmNonceSize + body));
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key), U(sealed)) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(aad), aad.size()) != 1) ||
      EVP_DecryptUpdate(ctx.get(), o, &len, U(sealed) + kGcmNonceSize, body) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagSize, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), o + len, &len) != 1) {
    return Fail("InvalidCiphertextException",
                "The ciphertext is invalid, was tampered with, or is bound to another context.");
  }
  return out;
}

}  // namespace berth::crypto
