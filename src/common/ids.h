// Identifier generation as a seam: production draws from a CSPRNG
// (crypto::SecureIds()), tests use SequenceIds for predictable values.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace berth {

class Ids {
 public:
  virtual ~Ids() = default;
  // Fills `out` with `n` random bytes.
  virtual void Fill(uint8_t* out, size_t n) = 0;

  // RFC 4122 version 4 UUID, lower-case: request ids, version ids.
  std::string Uuid();
  // `prefix` followed by upper-case base32 characters up to `length` in all,
  // the shape of AWS access key ids ("AKIA...", 20) and unique ids ("AIDA...", 21).
  std::string UpperId(std::string_view prefix, size_t length);
  // `length` characters of [A-Za-z0-9+/]: secret access keys (40).
  std::string SecretString(size_t length);
  // `length` characters of [A-Za-z]: the suffix of a Secrets Manager ARN (6).
  std::string Letters(size_t length);
};

// Deterministic ids for tests: bytes count up from `seed`. Thread-safe.
class SequenceIds final : public Ids {
 public:
  explicit SequenceIds(uint8_t seed = 0) : next_(seed) {}
  void Fill(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = next_.fetch_add(1);
  }

 private:
  std::atomic<uint8_t> next_;
};

}  // namespace berth
