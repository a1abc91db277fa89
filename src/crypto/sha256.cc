#include "crypto/sha256.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>

#include "common/strings.h"

namespace berth::crypto {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

namespace {
const EVP_MD* Sha256Md() {
  // Fetch once: EVP_sha256() lookups are cheap, but the fetched object avoids
  // provider resolution on every init under OpenSSL 3.
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}
}  // namespace

Sha256::Sha256() : impl_(std::make_unique<Impl>()) { Reset(); }
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Reset() {
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, Sha256Md(), nullptr) != 1) std::abort();
}

void Sha256::Update(const void* data, size_t size) {
  if (size && EVP_DigestUpdate(impl_->ctx, data, size) != 1) std::abort();
}

Digest Sha256::Final() {
  Digest out;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, out.data(), &len) != 1 || len != out.size()) std::abort();
  return out;
}

Digest Sha256Of(std::string_view data) {
  Digest out;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, Sha256Md(), nullptr) != 1) std::abort();
  return out;
}

std::string Sha256Hex(std::string_view data) { return HexEncode(AsBytes(Sha256Of(data))); }

Digest HmacSha256(std::string_view key, std::string_view data) {
  // OpenSSL 3.0's HMAC() fails when key and data are both null pointers, as an
  // empty std::string_view may hold; HMAC of empty inputs is well defined, so
  // never hand it a null pointer.
  static constexpr unsigned char kEmpty[1] = {0};
  const void* key_bytes = key.empty() ? kEmpty : static_cast<const void*>(key.data());
  const unsigned char* data_bytes =
      data.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(data.data());
  Digest out;
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size()), data_bytes, data.size(),
            out.data(), &len)) {
    std::abort();
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace berth::crypto
