#include "crypto/sha256.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>
#include <cstring>

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

namespace {
// One reusable digest context per thread: the request path hashes several
// times per request, and EVP_MD_CTX_new/EVP_Digest allocate on every call.
EVP_MD_CTX* ThreadCtx() {
  thread_local struct Holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Holder() { EVP_MD_CTX_free(ctx); }
  } holder;
  return holder.ctx;
}

void Digest2(const void* a, size_t a_size, const void* b, size_t b_size, uint8_t* out) {
  EVP_MD_CTX* ctx = ThreadCtx();
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx, Sha256Md(), nullptr) != 1 ||
      (a_size && EVP_DigestUpdate(ctx, a, a_size) != 1) ||
      (b_size && EVP_DigestUpdate(ctx, b, b_size) != 1) || EVP_DigestFinal_ex(ctx, out, &len) != 1) {
    std::abort();
  }
}
}  // namespace

Digest Sha256Of(std::string_view data) {
  Digest out;
  Digest2(data.data(), data.size(), nullptr, 0, out.data());
  return out;
}

std::string Sha256Hex(std::string_view data) { return HexEncode(AsBytes(Sha256Of(data))); }

// RFC 2104 over the fetched SHA-256 directly. OpenSSL 3's one-shot HMAC()
// fetches the MAC implementation (a global lock and string compares) on every
// call, which showed up as a quarter of the signed request path's CPU.
Digest HmacSha256(std::string_view key, std::string_view data) {
  constexpr size_t kBlock = 64;
  uint8_t k[kBlock] = {};
  if (key.size() > kBlock) {
    Digest2(key.data(), key.size(), nullptr, 0, k);
  } else if (!key.empty()) {
    std::memcpy(k, key.data(), key.size());
  }
  uint8_t pad[kBlock];
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x36;
  Digest inner;
  Digest2(pad, kBlock, data.data(), data.size(), inner.data());
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x5c;
  Digest out;
  Digest2(pad, kBlock, inner.data(), inner.size(), out.data());
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(pad, sizeof pad);
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace berth::crypto
