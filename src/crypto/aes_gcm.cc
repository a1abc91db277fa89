#include "crypto/aes_gcm.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>

#include "crypto/random.h"

namespace berth::crypto {

namespace {
const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// The cipher, fetched from the provider once (an implicit fetch on every init
// was half the cost of opening a small value), and one context per thread and
// direction, set up with the cipher once and re-keyed per call.
EVP_CIPHER* Cipher() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

struct ThreadCtx {
  EVP_CIPHER_CTX* ctx = nullptr;
  explicit ThreadCtx(int encrypt) {
    ctx = EVP_CIPHER_CTX_new();
    if (ctx &&
        (!Cipher() || EVP_CipherInit_ex(ctx, Cipher(), nullptr, nullptr, nullptr, encrypt) != 1)) {
      EVP_CIPHER_CTX_free(ctx);
      ctx = nullptr;
    }
  }
  ~ThreadCtx() { EVP_CIPHER_CTX_free(ctx); }
  ThreadCtx(const ThreadCtx&) = delete;
  ThreadCtx& operator=(const ThreadCtx&) = delete;
};

// Overwrites the key schedule a context keeps after use, so no key outlives
// its call in memory (a zero key costs one key expansion).
void Forget(EVP_CIPHER_CTX* ctx) {
  static const unsigned char kZero[kAesKeySize] = {};
  EVP_CipherInit_ex(ctx, nullptr, nullptr, kZero, nullptr, -1);
}

EVP_CIPHER_CTX* EncryptCtx() {
  thread_local ThreadCtx t(1);
  return t.ctx;
}
EVP_CIPHER_CTX* DecryptCtx() {
  thread_local ThreadCtx t(0);
  return t.ctx;
}
}  // namespace

Result<std::string> AesGcmSeal(std::string_view key, std::string_view plaintext,
                               std::string_view aad) {
  if (key.size() != kAesKeySize) return InternalFailure("AES-256-GCM key must be 32 bytes");
  std::string out(kGcmNonceSize + plaintext.size() + kGcmTagSize, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  RandomBytes(o, kGcmNonceSize);
  EVP_CIPHER_CTX* ctx = EncryptCtx();
  int len = 0;
  // The default IV length of AES-GCM is the 12-byte nonce; the key and IV
  // reset the context whatever the previous call left in it.
  if (!ctx || EVP_EncryptInit_ex(ctx, nullptr, nullptr, U(key), o) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx, nullptr, &len, U(aad), aad.size()) != 1) ||
      EVP_EncryptUpdate(ctx, o + kGcmNonceSize, &len, U(plaintext), plaintext.size()) != 1 ||
      EVP_EncryptFinal_ex(ctx, o + kGcmNonceSize + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kGcmTagSize,
                          o + kGcmNonceSize + plaintext.size()) != 1) {
    if (ctx) Forget(ctx);
    return InternalFailure("AES-256-GCM encryption failed");
  }
  Forget(ctx);
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
  EVP_CIPHER_CTX* ctx = DecryptCtx();
  if (!ctx) return InternalFailure("AES-256-GCM is not available");
  int len = 0;
  unsigned char tag[kGcmTagSize];
  std::memcpy(tag, sealed.data() + kGcmNonceSize + body, kGcmTagSize);
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, U(key), U(sealed)) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx, nullptr, &len, U(aad), aad.size()) != 1) ||
      EVP_DecryptUpdate(ctx, o, &len, U(sealed) + kGcmNonceSize, body) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kGcmTagSize, tag) != 1 ||
      EVP_DecryptFinal_ex(ctx, o + len, &len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    Forget(ctx);
    return Fail("InvalidCiphertextException",
                "The ciphertext is invalid, was tampered with, or is bound to another context.");
  }
  Forget(ctx);
  return out;
}

}  // namespace berth::crypto
