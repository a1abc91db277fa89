// SHA-256 and HMAC-SHA256 over OpenSSL (SHA-NI where the CPU has it).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace berth::crypto {

using Digest = std::array<uint8_t, 32>;

// Streaming SHA-256: Update any number of times, then Final once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Returns the digest; the object must not be updated afterwards (Reset() to reuse).
  Digest Final();
  void Reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Digest Sha256Of(std::string_view data);
// Lower-case hex of SHA-256(data), as SigV4 and OCI digests write it.
std::string Sha256Hex(std::string_view data);

// HMAC-SHA256(key, data).
Digest HmacSha256(std::string_view key, std::string_view data);

inline std::string_view AsBytes(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

// Constant-time equality, for comparing MACs and signatures.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace berth::crypto
