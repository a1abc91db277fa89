// AWS Key Management Service (TrentService). Pure domain logic.
// This first slice serves GenerateRandom; keys, aliases and envelope
// encryption come with the KMS/Secrets Manager work.
#pragma once

#include <optional>
#include <string>

#include "common/error.h"

namespace berth::kms {

inline constexpr int kMaxRandomBytes = 1024;

class Service {
 public:
  // `number_of_bytes` random bytes from the CSPRNG, 1..1024 (AWS's bounds);
  // ValidationException outside them or when absent.
  Result<std::string> GenerateRandom(std::optional<long long> number_of_bytes) const;
};

}  // namespace berth::kms
